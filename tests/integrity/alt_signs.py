# ruff: noqa  (a student's own solution, in their own style: a corpus for the integrity report)
import numpy as np


def relu(z):
    values = np.asarray(z, dtype=np.float64)
    return (values + np.abs(values)) / 2.0


def relu_grad(z):
    signs = np.sign(np.asarray(z, dtype=np.float64))
    return (signs + np.abs(signs)) / 2.0


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    safe = np.minimum(z, 0.0)  # exp(safe) <= 1
    neg = np.exp(safe) / (1.0 + np.exp(safe))  # right where z < 0
    pos = 1.0 / (1.0 + np.exp(-np.maximum(z, 0.0)))  # right where z >= 0
    return np.where(z < 0, neg, pos)


def sigmoid_grad(z):
    return sigmoid(z) * sigmoid(-np.asarray(z, dtype=np.float64))


def softmax(z):
    scores = np.asarray(z, dtype=np.float64)
    scores = scores - np.amax(scores, axis=1)[:, np.newaxis]
    numerator = np.exp(scores)
    return numerator / numerator.sum(axis=1)[:, np.newaxis]


def init_params(layer_sizes, seed):
    sizes = list(map(int, layer_sizes))
    gen = np.random.default_rng(seed)
    params = {}
    idx = 1
    while idx < len(sizes):
        n_in, n_out = sizes[idx - 1], sizes[idx]
        params["W" + str(idx)] = gen.standard_normal(size=(n_in, n_out)) * np.sqrt(2.0 / n_in)
        params["b" + str(idx)] = np.zeros(shape=(n_out,))
        idx += 1
    return params


def forward(params, X, activation="relu"):
    if activation == "relu":
        nonlin = relu
    elif activation == "sigmoid":
        nonlin = sigmoid
    else:
        raise ValueError("activation should be relu or sigmoid")
    layers = [(params["W%d" % i], params["b%d" % i]) for i in range(1, len(params) // 2 + 1)]
    a = np.asarray(X, dtype=np.float64)
    cache = {"A0": a}
    for i, (W, b) in enumerate(layers, start=1):
        z = a @ W + b
        last = i == len(layers)
        a = softmax(z) if last else nonlin(z)
        cache["Z%d" % i] = z
        cache["A%d" % i] = a
    return a, cache


def cross_entropy(probs, y):
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, None)
    y = np.asarray(y, dtype=np.int64)
    logs = np.log(probs)
    return float(-sum(logs[i, y[i]] for i in range(len(y))) / len(y))


def loss_fn(params, X, y, activation="relu"):
    probs, cache = forward(params, X, activation)
    del cache
    return cross_entropy(probs, y)


def backward(params, cache, y, activation="relu"):
    n_layers = len(params) // 2
    derivative = relu_grad if activation == "relu" else sigmoid_grad
    out = cache["A%d" % n_layers]
    count = out.shape[0]
    labels = np.zeros_like(out)
    labels[np.arange(count), np.asarray(y, dtype=np.int64)] = 1.0
    error = (out - labels) / count
    gradients = {}
    i = n_layers
    while True:
        gradients["W%d" % i] = cache["A%d" % (i - 1)].T @ error
        gradients["b%d" % i] = error.sum(axis=0)
        i -= 1
        if i == 0:
            return gradients
        error = (error @ params["W%d" % (i + 1)].T) * derivative(cache["Z%d" % i])


def update(params, grads, lr):
    result = dict()
    for name in params:
        step = lr * grads[name]
        result[name] = params[name] - step
    return result


def train(X, y, layer_sizes, *, epochs, lr, seed, activation="relu"):
    net = init_params(layer_sizes, seed)
    record = []
    for _ in range(int(epochs)):
        probs, cache = forward(net, X, activation=activation)
        record.append(cross_entropy(probs, y))
        net = update(net, backward(net, cache, y, activation=activation), lr)
    return net, record
