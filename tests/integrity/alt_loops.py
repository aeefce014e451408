# ruff: noqa  (a student's own solution, in their own style: a corpus for the integrity report)
import numpy as np


def relu(z):
    z = np.array(z, dtype=float)
    out = z.copy()
    out[out < 0] = 0.0
    return out


def relu_grad(z):
    z = np.array(z, dtype=float)
    return np.where(z > 0, 1.0, 0.0)


def sigmoid(z):
    z = np.array(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def sigmoid_grad(z):
    s = sigmoid(z)
    return s - s * s


def softmax(z):
    z = np.array(z, dtype=float)
    shifted = z - z.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    totals = exps.sum(axis=1, keepdims=True)
    return exps / totals


def init_params(layer_sizes, seed):
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in layer_sizes]
    out = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        out["W" + str(i)] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        out["b" + str(i)] = np.zeros(fan_out)
    return out


def forward(params, X, activation="relu"):
    if activation == "relu":
        act = relu
    elif activation == "sigmoid":
        act = sigmoid
    else:
        raise ValueError("unknown activation: " + str(activation))
    depth = len([k for k in params if k.startswith("W")])
    cache = {"A0": np.array(X, dtype=float)}
    for i in range(1, depth + 1):
        pre = cache["A" + str(i - 1)].dot(params["W" + str(i)]) + params["b" + str(i)]
        cache["Z" + str(i)] = pre
        cache["A" + str(i)] = softmax(pre) if i == depth else act(pre)
    return cache["A" + str(depth)], cache


def cross_entropy(probs, y):
    probs = np.array(probs, dtype=float)
    labels = np.array(y, dtype=int)
    total = 0.0
    for row, label in zip(probs, labels):
        total -= np.log(max(row[label], 1e-12))
    return float(total / len(labels))


def loss_fn(params, X, y, activation="relu"):
    return cross_entropy(forward(params, X, activation)[0], y)


def backward(params, cache, y, activation="relu"):
    depth = len(params) // 2
    probs = cache["A" + str(depth)]
    n, k = probs.shape
    onehot = np.zeros((n, k))
    onehot[np.arange(n), np.array(y, dtype=int)] = 1.0
    dz = (probs - onehot) / n
    grads = {}
    for i in range(depth, 0, -1):
        grads["W" + str(i)] = np.dot(cache["A" + str(i - 1)].T, dz)
        grads["b" + str(i)] = np.sum(dz, axis=0)
        if i > 1:
            da = np.dot(dz, params["W" + str(i)].T)
            before = cache["Z" + str(i - 1)]
            dz = da * (relu_grad(before) if activation == "relu" else sigmoid_grad(before))
    return grads


def update(params, grads, lr):
    new = {}
    for key, value in params.items():
        new[key] = value - lr * grads[key]
    return new


def train(X, y, layer_sizes, *, epochs, lr, seed, activation="relu"):
    params = init_params(layer_sizes, seed)
    history = []
    epoch = 0
    while epoch < epochs:
        out, cache = forward(params, X, activation)
        history.append(float(cross_entropy(out, y)))
        params = update(params, backward(params, cache, y, activation), lr)
        epoch += 1
    return params, history
