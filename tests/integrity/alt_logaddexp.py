# ruff: noqa  (a student's own solution, in their own style: a corpus for the integrity report)
import numpy as np


def relu(z):
    arr = np.asarray(z, dtype=np.float64)
    return np.where(arr > 0, arr, 0.0)


def relu_grad(z):
    arr = np.asarray(z, dtype=np.float64)
    return np.greater(arr, 0).astype(np.float64)


def sigmoid(z):
    arr = np.asarray(z, dtype=np.float64)
    # log sigmoid(z) = -log(1 + e^-z) = -logaddexp(0, -z)
    return np.exp(-np.logaddexp(0.0, -arr))


def sigmoid_grad(z):
    arr = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -arr) - np.logaddexp(0.0, arr))


def softmax(z):
    arr = np.asarray(z, dtype=np.float64)
    result = np.empty_like(arr)
    for i, row in enumerate(arr):
        e = np.exp(row - row.max())
        result[i] = e / e.sum()
    return result


def init_params(layer_sizes, seed):
    rng = np.random.default_rng(seed)
    shapes = [(int(a), int(b)) for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
    weights = [rng.normal(0.0, np.sqrt(2.0 / a), size=(a, b)) for a, b in shapes]
    result = {}
    for number, w in enumerate(weights, 1):
        result[f"W{number}"] = w
        result[f"b{number}"] = np.zeros(w.shape[1])
    return result


def forward(params, X, activation="relu"):
    try:
        g = {"relu": relu, "sigmoid": sigmoid}[activation]
    except KeyError:
        raise ValueError(f"unsupported activation {activation}") from None
    count = len(params) // 2
    cache = {}
    current = np.asarray(X, dtype=np.float64)
    cache["A0"] = current
    layer = 1
    while layer <= count:
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        pre = np.matmul(current, W) + b
        current = g(pre) if layer < count else softmax(pre)
        cache.update({f"Z{layer}": pre, f"A{layer}": current})
        layer += 1
    return current, cache


def cross_entropy(probs, y):
    labels = np.asarray(y).astype(int)
    probs = np.asarray(probs, dtype=np.float64)
    onehot = np.eye(probs.shape[1])[labels]
    chosen = (probs * onehot).sum(axis=1)
    return float(np.mean(-np.log(np.clip(chosen, 1e-12, 1.0))))


def loss_fn(params, X, y, activation="relu"):
    out, _unused = forward(params, X, activation)
    return float(cross_entropy(out, y))


def backward(params, cache, y, activation="relu"):
    count = len(params) // 2
    probs = cache[f"A{count}"]
    n = probs.shape[0]
    target = np.eye(probs.shape[1])[np.asarray(y).astype(int)]
    grads = {}
    dZ = (probs - target) / n
    for layer in reversed(range(1, count + 1)):
        A_prev = cache[f"A{layer - 1}"]
        grads[f"W{layer}"] = np.matmul(A_prev.T, dZ)
        grads[f"b{layer}"] = dZ.sum(axis=0)
        if layer == 1:
            break
        dA = np.matmul(dZ, params[f"W{layer}"].T)
        Z_prev = cache[f"Z{layer - 1}"]
        dZ = dA * (relu_grad(Z_prev) if activation == "relu" else sigmoid_grad(Z_prev))
    return grads


def update(params, grads, lr):
    return {key: np.copy(params[key]) - lr * grads[key] for key in params.keys()}


def train(X, y, layer_sizes, *, epochs, lr, seed, activation="relu"):
    p = init_params(layer_sizes, seed)
    losses = [0.0] * epochs
    for e in range(epochs):
        probs, cache = forward(p, X, activation)
        losses[e] = cross_entropy(probs, y)
        p = update(p, backward(p, cache, y, activation), lr)
    return p, losses
