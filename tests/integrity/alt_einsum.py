# ruff: noqa  (a student's own solution, in their own style: a corpus for the integrity report)
import numpy as np


def relu(z):
    return np.clip(np.asarray(z, dtype=np.float64), 0.0, None)


def relu_grad(z):
    return np.heaviside(np.asarray(z, dtype=np.float64), 0.0)


def sigmoid(z):
    # 1 / (1 + e^-z) == (1 + tanh(z / 2)) / 2, and tanh never overflows
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def sigmoid_grad(z):
    t = np.tanh(0.5 * np.asarray(z, dtype=np.float64))
    return 0.25 * (1.0 - t * t)


def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    top = z.max(axis=1, keepdims=True)
    logsumexp = top + np.log(np.exp(z - top).sum(axis=1, keepdims=True))
    return np.exp(z - logsumexp)


def init_params(layer_sizes, seed):
    generator = np.random.default_rng(seed)
    result = {}
    pairs = list(zip(layer_sizes, layer_sizes[1:]))
    for index, (rows, cols) in enumerate(pairs):
        scale = (2.0 / rows) ** 0.5
        result[f"W{index + 1}"] = scale * generator.standard_normal((rows, cols))
        result[f"b{index + 1}"] = np.zeros((cols,))
    return result


def forward(params, X, activation="relu"):
    hidden = {"relu": relu, "sigmoid": sigmoid}
    if activation not in hidden:
        raise ValueError("activation %r is not supported" % (activation,))
    L = sum(1 for name in params if name[0] == "W")
    a = np.asarray(X, dtype=np.float64)
    cache = dict(A0=a)
    for l in range(1, L + 1):
        z = np.einsum("nd,dk->nk", a, params["W%d" % l]) + params["b%d" % l]
        a = hidden[activation](z) if l < L else softmax(z)
        cache["Z%d" % l], cache["A%d" % l] = z, a
    return a, cache


def cross_entropy(probs, y):
    p = np.asarray(probs, dtype=np.float64)
    picked = np.take_along_axis(p, np.asarray(y, dtype=np.int64)[:, None], axis=1)
    return -float(np.log(np.maximum(picked, 1e-12)).mean())


def loss_fn(params, X, y, activation="relu"):
    probabilities = forward(params, X, activation=activation)[0]
    value = cross_entropy(probabilities, y)
    return value


def backward(params, cache, y, activation="relu"):
    L = len(params) // 2
    labels = np.asarray(y, dtype=np.int64)
    m = labels.shape[0]
    d = np.array(cache["A%d" % L], dtype=np.float64)
    d[range(m), labels] -= 1.0
    d = d / m
    out = {}
    l = L
    while l >= 1:
        out["W%d" % l] = np.einsum("nd,nk->dk", cache["A%d" % (l - 1)], d)
        out["b%d" % l] = d.sum(axis=0)
        if l > 1:
            z_prev = cache["Z%d" % (l - 1)]
            slope = relu_grad(z_prev) if activation == "relu" else sigmoid_grad(z_prev)
            d = np.einsum("nk,dk->nd", d, params["W%d" % l]) * slope
        l -= 1
    return {name: out[name] for name in sorted(params)}


def update(params, grads, lr):
    return dict((k, np.subtract(v, lr * grads[k])) for k, v in params.items())


def train(X, y, layer_sizes, *, epochs, lr, seed, activation="relu"):
    weights = init_params(layer_sizes, seed)
    curve = []
    for step in range(epochs):
        curve.append(loss_fn(weights, X, y, activation))
        _, cache = forward(weights, X, activation)
        weights = update(weights, backward(weights, cache, y, activation), lr)
    return weights, curve
