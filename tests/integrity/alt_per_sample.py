# ruff: noqa  (a student's own solution, in their own style: a corpus for the integrity report)
import numpy as np


def relu(z):
    z = np.asarray(z, dtype=np.float64)
    return np.piecewise(z, [z > 0], [lambda v: v, 0.0])


def relu_grad(z):
    z = np.asarray(z, dtype=np.float64)
    return np.piecewise(z, [z > 0], [1.0, 0.0])


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    return np.piecewise(z, [z >= 0], [lambda v: 1.0 / (1.0 + np.exp(-v)), lambda v: np.exp(v) / (1.0 + np.exp(v))])


def sigmoid_grad(z):
    s = sigmoid(z)
    return np.multiply(s, 1.0 - s)


def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    shifted = z - np.max(z, axis=1).reshape(-1, 1)
    exp_scores = np.exp(shifted)
    return exp_scores / np.sum(exp_scores, axis=1).reshape(-1, 1)


def init_params(layer_sizes, seed):
    rng = np.random.default_rng(seed)
    names = {}
    for k in range(len(layer_sizes) - 1):
        a, b = layer_sizes[k], layer_sizes[k + 1]
        names["W" + str(k + 1)] = np.sqrt(2.0 / a) * rng.standard_normal((a, b))
        names["b" + str(k + 1)] = np.zeros(b)
    return names


def forward(params, X, activation="relu"):
    funcs = dict(relu=relu, sigmoid=sigmoid)
    if activation not in funcs:
        raise ValueError(f"bad activation {activation!r}")
    L = len(params) // 2
    cache = {"A0": np.asarray(X, dtype=np.float64)}
    for l in range(1, L + 1):
        cache["Z" + str(l)] = cache["A" + str(l - 1)] @ params["W" + str(l)] + params["b" + str(l)]
        cache["A" + str(l)] = (softmax if l == L else funcs[activation])(cache["Z" + str(l)])
    return cache["A" + str(L)], cache


def cross_entropy(probs, y):
    probs = np.asarray(probs, dtype=np.float64)
    idx = np.asarray(y, dtype=np.int64)
    logp = np.log(np.maximum(probs[np.arange(probs.shape[0]), idx], 1e-12))
    return -float(logp.sum()) / idx.size


def loss_fn(params, X, y, activation="relu"):
    probs = forward(params, X, activation)[0]
    return float(cross_entropy(probs, y))


def backward(params, cache, y, activation="relu"):
    L = len(params) // 2
    probs = cache["A" + str(L)]
    n = len(y)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for s in range(n):  # one sample at a time, then averaged
        delta = probs[s].copy()
        delta[int(y[s])] -= 1.0
        for l in range(L, 0, -1):
            grads["W" + str(l)] += np.outer(cache["A" + str(l - 1)][s], delta) / n
            grads["b" + str(l)] += delta / n
            if l > 1:
                z = cache["Z" + str(l - 1)][s]
                gp = relu_grad(z) if activation == "relu" else sigmoid_grad(z)
                delta = (params["W" + str(l)] @ delta) * gp
    return grads


def update(params, grads, lr):
    out = {}
    for k in params:
        out[k] = np.asarray(params[k]) - lr * np.asarray(grads[k])
    return out


def train(X, y, layer_sizes, *, epochs, lr, seed, activation="relu"):
    params = init_params(layer_sizes, seed)

    def step(p):
        probs, cache = forward(p, X, activation)
        return cross_entropy(probs, y), backward(p, cache, y, activation)

    losses = []
    for _ in range(epochs):
        loss, grads = step(params)
        losses.append(loss)
        params = update(params, grads, lr)
    return params, losses
