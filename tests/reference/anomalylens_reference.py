#!/usr/bin/python3
"""The five AnomalyLens networks written again in PyTorch, as the reference the LibTorch code is
checked against (tests/core/test_models_reference.cpp). Only for tests: the product never runs
Python.

Given a model saved by AnomalyLens (card + safetensors weights), inputs and the outputs LibTorch
computed from them, this builds the same networks from the card's configuration, loads the same
weights, recomputes every output and compares. Exit status 0 when every output agrees within the
tolerance (max |libtorch - python| / max |python|), 1 when one does not, 2 on bad arguments.
"""

import argparse
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + begin:base + end]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def lrelu(x, slope=0.2):
    return F.leaky_relu(x, slope)


# ---- AnoGAN ---------------------------------------------------------------------------------
def _pad(k):
    return (k - 1) // 2 if k % 2 else (k - 2) // 2


class AnoGanG(nn.Module):
    def __init__(self, c):
        super().__init__()
        b, k, self.f, self.b = c["base"], c["kernel"], c["image_size"] // 16, c["base"]
        op = 1 if k % 2 else 0
        self.fc = nn.Linear(c["z_dim"], 8 * b * self.f * self.f, bias=False)
        self.bn0 = nn.BatchNorm2d(8 * b)
        self.up1 = nn.ConvTranspose2d(8 * b, 4 * b, k, 2, _pad(k), op, bias=False)
        self.bn1 = nn.BatchNorm2d(4 * b)
        self.up2 = nn.ConvTranspose2d(4 * b, 2 * b, k, 2, _pad(k), op, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * b)
        self.up3 = nn.ConvTranspose2d(2 * b, b, k, 2, _pad(k), op, bias=False)
        self.bn3 = nn.BatchNorm2d(b)
        self.up4 = nn.ConvTranspose2d(b, c["channels"], k, 2, _pad(k), op, bias=True)

    def forward(self, z):
        h = F.relu(self.bn0(self.fc(z).view(z.shape[0], 8 * self.b, self.f, self.f)))
        h = F.relu(self.bn1(self.up1(h)))
        h = F.relu(self.bn2(self.up2(h)))
        h = F.relu(self.bn3(self.up3(h)))
        return torch.tanh(self.up4(h))


class AnoGanD(nn.Module):
    def __init__(self, c):
        super().__init__()
        b, k, f = c["base"], c["kernel"], c["image_size"] // 16
        self.conv1 = nn.Conv2d(c["channels"], b, k, 2, _pad(k), bias=True)
        self.conv2 = nn.Conv2d(b, 2 * b, k, 2, _pad(k), bias=False)
        self.bn2 = nn.BatchNorm2d(2 * b)
        self.conv3 = nn.Conv2d(2 * b, 4 * b, k, 2, _pad(k), bias=False)
        self.bn3 = nn.BatchNorm2d(4 * b)
        self.conv4 = nn.Conv2d(4 * b, 8 * b, k, 2, _pad(k), bias=False)
        self.bn4 = nn.BatchNorm2d(8 * b)
        self.fc = nn.Linear(8 * b * f * f, 1)

    def forward(self, x):
        h = lrelu(self.conv1(x))
        h = lrelu(self.bn2(self.conv2(h)))
        h = lrelu(self.bn3(self.conv3(h)))
        h = lrelu(self.bn4(self.conv4(h)))
        feats = h.flatten(1)
        return self.fc(feats).squeeze(1), feats


class AnoGan(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.G, self.D = AnoGanG(c), AnoGanD(c)

    def outputs(self, i):
        lam = self.c["lambda"]
        x, z = i["x"], i["z"]
        g = self.G(z)
        logits, fx = self.D(x)
        fake_logits, fg = self.D(g)
        return {
            "G": g, "D.logits": logits, "D.features": fx,
            "mapping_loss": (1 - lam) * (x - g).abs().flatten(1).sum(1) + lam * (fx - fg).abs().flatten(1).sum(1),
            "d_loss": F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(logits)),
        }


# ---- f-AnoGAN -------------------------------------------------------------------------------
def _up(x):
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class ResBlockUp(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(i), nn.Conv2d(i, o, 3, padding=1)
        self.bn2, self.conv2 = nn.BatchNorm2d(o), nn.Conv2d(o, o, 3, padding=1)
        self.shortcut = nn.Conv2d(i, o, 1)

    def forward(self, x):
        h = self.conv1(_up(F.relu(self.bn1(x))))
        h = self.conv2(F.relu(self.bn2(h)))
        return self.shortcut(_up(x)) + h


class ResBlockDown(nn.Module):
    def __init__(self, i, o, batch_norm):
        super().__init__()
        norm = (lambda ch: nn.BatchNorm2d(ch)) if batch_norm else (lambda ch: nn.GroupNorm(1, ch))
        self.norm1, self.conv1 = norm(i), nn.Conv2d(i, i, 3, padding=1)
        self.norm2, self.conv2 = norm(i), nn.Conv2d(i, o, 3, padding=1)
        self.shortcut = nn.Conv2d(i, o, 1)

    def forward(self, x):
        h = self.conv1(F.relu(self.norm1(x)))
        h = F.avg_pool2d(self.conv2(F.relu(self.norm2(h))), 2)
        return F.avg_pool2d(self.shortcut(x), 2) + h


class FAnoGanG(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.f, self.d = c["dim"], c["image_size"] // 16, c["dim"]
        self.fc = nn.Linear(c["z_dim"], 8 * d * self.f * self.f)
        self.up1, self.up2 = ResBlockUp(8 * d, 8 * d), ResBlockUp(8 * d, 4 * d)
        self.up3, self.up4 = ResBlockUp(4 * d, 2 * d), ResBlockUp(2 * d, d)
        self.bn_out, self.conv_out = nn.BatchNorm2d(d), nn.Conv2d(d, c["channels"], 3, padding=1)

    def forward(self, z):
        h = self.fc(z).view(z.shape[0], 8 * self.d, self.f, self.f)
        h = self.up4(self.up3(self.up2(self.up1(h))))
        return torch.tanh(self.conv_out(F.relu(self.bn_out(h))))


class Trunk(nn.Module):
    def __init__(self, c, batch_norm, outputs, tanh):
        super().__init__()
        d, f = c["dim"], c["image_size"] // 16
        self.tanh = tanh
        self.conv_in = nn.Conv2d(c["channels"], d, 3, padding=1)
        self.down1, self.down2 = ResBlockDown(d, 2 * d, batch_norm), ResBlockDown(2 * d, 4 * d, batch_norm)
        self.down3, self.down4 = ResBlockDown(4 * d, 8 * d, batch_norm), ResBlockDown(8 * d, 8 * d, batch_norm)
        self.fc = nn.Linear(8 * d * f * f, outputs)

    def forward(self, x):
        feats = self.down4(self.down3(self.down2(self.down1(self.conv_in(x))))).flatten(1)
        out = self.fc(feats)
        return (torch.tanh(out) if self.tanh else out), feats


def gradient_penalty(critic, real, fake, alpha):
    x_hat = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    grad = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)[0]
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


class FAnoGan(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.G = FAnoGanG(c)
        self.D = Trunk(c, False, 1, False)
        self.E = Trunk(c, True, c["z_dim"], True)

    def outputs(self, i):
        x, z, alpha = i["x"], i["z"], i["alpha"]
        with torch.no_grad():
            g = self.G(z)
            logits, fx = self.D(x)
            e = self.E(x)[0]
            xr = self.G(e)
            fr = self.D(xr)[1]
            loss = (x - xr).pow(2).flatten(1).mean(1) + self.c["kappa"] * (fx - fr).pow(2).flatten(1).mean(1)
        gp = gradient_penalty(lambda t: self.D(t)[0], x, g, alpha)
        return {"G": g, "D.logits": logits.squeeze(1), "D.features": fx, "E": e, "izi_f_loss": loss,
                "gp": gp.detach().reshape(1)}


# ---- Sparse-GAN -----------------------------------------------------------------------------
def _down(i, o, bias):
    return nn.Conv2d(i, o, 4, 2, 1, bias=bias)


class SparseEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        b = c["base"]
        self.conv1 = _down(c["channels"], b, True)
        self.conv2, self.bn2 = _down(b, 2 * b, False), nn.BatchNorm2d(2 * b)
        self.conv3, self.bn3 = _down(2 * b, 4 * b, False), nn.BatchNorm2d(4 * b)
        self.conv4, self.bn4 = _down(4 * b, 8 * b, False), nn.BatchNorm2d(8 * b)
        self.conv5, self.bn5 = _down(8 * b, 16 * b, False), nn.BatchNorm2d(16 * b)

    def forward(self, x):
        h = lrelu(self.conv1(x))
        h = lrelu(self.bn2(self.conv2(h)))
        h = lrelu(self.bn3(self.conv3(h)))
        h = lrelu(self.bn4(self.conv4(h)))
        return lrelu(self.bn5(self.conv5(h)))


class SparseDecoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        b = c["base"]
        up = lambda i, o, bias: nn.ConvTranspose2d(i, o, 4, 2, 1, bias=bias)  # noqa: E731
        self.up1, self.bn1 = up(16 * b, 8 * b, False), nn.BatchNorm2d(8 * b)
        self.up2, self.bn2 = up(8 * b, 4 * b, False), nn.BatchNorm2d(4 * b)
        self.up3, self.bn3 = up(4 * b, 2 * b, False), nn.BatchNorm2d(2 * b)
        self.up4, self.bn4 = up(2 * b, b, False), nn.BatchNorm2d(b)
        self.up5 = up(b, c["channels"], True)

    def forward(self, h):
        y = F.relu(self.bn1(self.up1(h)))
        y = F.relu(self.bn2(self.up2(y)))
        y = F.relu(self.bn3(self.up3(y)))
        y = F.relu(self.bn4(self.up4(y)))
        return torch.tanh(self.up5(y))


class SparseD(SparseEncoder):
    def __init__(self, c):
        super().__init__(c)
        b = c["base"]
        self.joint = nn.Conv2d(32 * b, 8 * b, 1)
        self.out = nn.Conv2d(8 * b, 1, 3, padding=1)

    def forward(self, x, h):
        y = super().forward(x)
        return self.out(lrelu(self.joint(torch.cat([y, h], 1)))).flatten(1)


class SparsityNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        ch, k = 16 * c["base"], c["sparse_kernel"]
        self.steps = c["lstm_steps"]
        for n in ("w_i", "w_f", "w_c"):
            setattr(self, n, nn.Conv2d(ch, ch, k, padding=k // 2, bias=True))
        for n in ("u_i", "u_f", "u_c"):
            setattr(self, n, nn.Conv2d(ch, ch, k, padding=k // 2, bias=False))
        self.theta = nn.Parameter(torch.full((ch,), 0.1))
        self.dictionary = nn.Conv2d(ch, ch, 1, bias=False)

    def code(self, h):
        xi, xf, xc = self.w_i(h), self.w_f(h), self.w_c(h)
        th = self.theta.abs().view(1, -1, 1, 1)
        c = torch.zeros_like(xc)
        s = torch.zeros_like(xc)
        for _ in range(self.steps):
            i = torch.sigmoid(xi + self.u_i(s))
            f = torch.sigmoid(xf + self.u_f(s))
            c = f * c + i * (xc + self.u_c(s))
            s = torch.sign(c) * F.relu(c.abs() - th)
        return s

    def loss(self, h, s):
        return (h - self.dictionary(s)).pow(2).flatten(1).mean(1) + s.abs().flatten(1).mean(1)


class SparseGan(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.G_en, self.G_de, self.D, self.S = SparseEncoder(c), SparseDecoder(c), SparseD(c), SparsityNet(c)

    def outputs(self, i):
        c, x = self.c, i["x"]
        h = self.G_en(x)
        xr = self.G_de(h)
        h_re = self.G_en(xr)
        s = self.S.code(h)
        w = (h.mean((2, 3)) - h_re.mean((2, 3))).abs()
        cam = F.relu((h * w[:, :, None, None]).sum(1, keepdim=True))
        aam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)
        fake = self.D(xr, h)
        g_loss = (c["lambda_adv"] * F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
                  + c["lambda_re"] * (x - xr).pow(2).mean()
                  + c["lambda_sp"] * self.S.loss(h, s).mean())
        return {"G_en": h, "G_de": xr, "D": self.D(x, h), "S.code": s, "S.loss": self.S.loss(h, s),
                "score": (h - h_re).flatten(1).norm(2, dim=1), "aam": aam, "g_loss": g_loss.reshape(1)}


# ---- A2B-GAN --------------------------------------------------------------------------------
def _inorm(ch):
    return nn.InstanceNorm2d(ch, affine=True)


class A2BResidual(nn.Module):
    def __init__(self, ch, bias=False):
        super().__init__()
        self.conv1, self.in1 = nn.Conv2d(ch, ch, 3, 1, 1, bias=bias), _inorm(ch)
        self.conv2, self.in2 = nn.Conv2d(ch, ch, 3, 1, 1, bias=bias), _inorm(ch)

    def forward(self, x):
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class A2BG(nn.Module):
    def __init__(self, c):
        super().__init__()
        b, ch = c["base"], c["channels"]
        self.stem, self.in0 = nn.Conv2d(ch, b, 7, 1, 3, bias=False), _inorm(b)
        self.down1, self.in1 = nn.Conv2d(b, 2 * b, 4, 2, 1, bias=False), _inorm(2 * b)
        self.down2, self.in2 = nn.Conv2d(2 * b, 4 * b, 4, 2, 1, bias=False), _inorm(4 * b)
        self.blocks = nn.Sequential(*[A2BResidual(4 * b) for _ in range(c["res_blocks"])])
        self.up1, self.in3 = nn.ConvTranspose2d(4 * b, 2 * b, 4, 2, 1, bias=False), _inorm(2 * b)
        self.up2, self.in4 = nn.ConvTranspose2d(2 * b, b, 4, 2, 1, bias=False), _inorm(b)
        self.head = nn.Conv2d(b, ch + 1, 7, 1, 3, bias=False)

    def forward(self, x):
        h = F.relu(self.in0(self.stem(x)))
        h = F.relu(self.in1(self.down1(h)))
        h = F.relu(self.in2(self.down2(h)))
        h = self.blocks(h)
        h = F.relu(self.in3(self.up1(h)))
        h = F.relu(self.in4(self.up2(h)))
        return self.head(h)


class A2BD(nn.Module):
    def __init__(self, c):
        super().__init__()
        layers, ch, nxt = [], c["channels"], c["base"]
        for _ in range(c["critic_layers"]):
            layers += [nn.Conv2d(ch, nxt, 4, 2, 1), nn.LeakyReLU(0.01)]
            ch, nxt = nxt, nxt * 2
        self.main = nn.Sequential(*layers)
        self.out = nn.Conv2d(ch, 1, 3, 1, 1, bias=False)

    def forward(self, x):
        return self.out(self.main(x))


class A2BGan(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.G, self.D = A2BG(c), A2BD(c)

    def translate(self, x):
        raw = self.G(x)
        ch = self.c["channels"]
        b_int = torch.tanh(raw[:, :ch])
        m = (torch.tanh(raw[:, ch:ch + 1]) + 1) / 2
        return b_int, m, b_int * m + x * (1 - m), x * m + b_int * (1 - m)

    def focus(self, m):
        c, eps = self.c, self.c["focus_eps"]
        return c["lambda_fs"] * m.mean() ** 2 + c["lambda_fz"] * ((1.0 / ((m - 0.5).abs() + eps)).mean() - 1.0 / (0.5 + eps))

    def outputs(self, i):
        c, a, b = self.c, i["a"], i["b"]
        _, ma, bpa, apa = self.translate(a)
        bib, mb, bpb, _ = self.translate(b)
        adv = -self.D(bpa).mean() - self.D(bpb).mean()
        rec = (a - apa).abs().mean()
        idl = (bib - b).abs().mean()
        foc = 0.5 * (self.focus(ma) + self.focus(mb))
        total = adv + c["lambda_rec"] * rec + c["lambda_id"] * idl + c["lambda_f"] * foc
        out = {"G": self.G(a), "D": self.D(a), "B_prime": bpa, "A_prime": apa,
               "score": (a - bpa).abs().flatten(1).mean(1) / 2}
        for k, v in {"g_adv": adv, "g_rec": rec, "g_id": idl, "g_focus": foc, "g_loss": total}.items():
            out["loss." + k] = v.reshape(1)
        return out


# ---- ADM ------------------------------------------------------------------------------------
class CtoC(nn.Module):
    def __init__(self, c):
        super().__init__()
        b, C = c["base"], len(c["contrasts"])
        self.conv_in, self.in0 = nn.Conv2d(C, b, 3, 1, 1), _inorm(b)
        self.down1, self.in1 = nn.Conv2d(b, 2 * b, 3, 2, 1), _inorm(2 * b)
        self.down2, self.in2 = nn.Conv2d(2 * b, 4 * b, 3, 2, 1), _inorm(4 * b)
        self.blocks = nn.Sequential(*[A2BResidual(4 * b, bias=True) for _ in range(c["res_blocks"])])
        self.up1, self.in3 = nn.ConvTranspose2d(4 * b, 2 * b, 3, 2, 1, 1), _inorm(2 * b)
        self.up2, self.in4 = nn.ConvTranspose2d(2 * b, b, 3, 2, 1, 1), _inorm(b)
        self.conv_out = nn.Conv2d(b + 1, 1, 3, 1, 1)

    def forward(self, x, m):
        h = F.relu(self.in0(self.conv_in(x)))
        h = F.relu(self.in1(self.down1(h)))
        h = F.relu(self.in2(self.down2(h)))
        h = self.blocks(h)
        h = F.relu(self.in3(self.up1(h)))
        h = F.relu(self.in4(self.up2(h)))
        return self.conv_out(torch.cat([h, m], 1))


class DR(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = len(c["contrasts"])
        self.g1, self.g2, self.g3 = nn.Conv2d(C, 16, 3, 1, 1), nn.Conv2d(16, 8, 3, 1, 1), nn.Conv2d(8, 3, 3, 1, 1)
        self.f1, self.f2, self.f3 = nn.Conv2d(3, 8, 1), nn.Conv2d(8, 16, 1), nn.Conv2d(16, C, 1)

    def reduce(self, x):
        return self.g3(torch.tanh(self.g2(torch.tanh(self.g1(x)))))

    def reconstruct(self, z):
        return self.f3(torch.tanh(self.f2(torch.tanh(self.f1(z)))))


class DE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Conv2d(len(c["contrasts"]) + 3, c["de_hidden"], 1)
        self.drop = nn.Dropout(c["dropout"])
        self.fc2 = nn.Conv2d(c["de_hidden"], c["components"], 1)

    def forward(self, z):
        return torch.softmax(self.fc2(self.drop(torch.tanh(self.fc1(z)))), 1)


def gmm_parameters(z, gamma, w):
    zd, g = z.double(), gamma.double() * w.double()[:, None]
    mass = g.sum(0)
    phi = mass / mass.sum().clamp_min(1e-12)
    denom = mass.clamp_min(1e-12)[:, None]
    mu = g.t() @ zd / denom
    diff = zd[:, None, :] - mu[None]
    cov = torch.einsum("pk,pki,pkj->kij", g, diff, diff) / denom[:, :, None]
    return phi, mu, cov


def guard_covariance(cov, eps):
    values, vectors = torch.linalg.eigh(cov)
    guarded = vectors @ torch.diag_embed(F.relu(values - eps) + eps) @ vectors.transpose(-1, -2)
    return (guarded + guarded.transpose(-1, -2)) / 2  # the paper's form; C++ computes the same value


def gmm_energy(z, phi, mu, cov):
    zd = z.double()
    d = zd.shape[1]
    L = torch.linalg.cholesky(cov)
    diff = zd[:, None, :] - mu[None]
    sol = torch.linalg.solve_triangular(L[None], diff[..., None], upper=False)[..., 0]
    maha = sol.pow(2).sum(2)
    logdet = 2 * torch.diagonal(L, dim1=-2, dim2=-1).log().sum(1)
    logp = phi.clamp_min(1e-12).log()[None] - 0.5 * (d * math.log(2 * math.pi) + logdet[None] + maha)
    return -torch.logsumexp(logp, 1)


def pixels(t):
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


class Adm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.G_ct, self.DR, self.G_de = CtoC(c), DR(c), DE(c)
        self.gmm = {}

    def ctoc_input(self, x, target, mask):
        n, C = x.shape[0], x.shape[1]
        med = torch.empty(n)
        for i in range(n):
            ch = x[i, target]
            vals = ch[mask[i, 0] > 0.5]
            med[i] = (vals if vals.numel() else ch.flatten()).median()
        mmap = med.view(n, 1, 1, 1).expand(n, 1, *x.shape[2:])
        xin = x.clone()
        xin[:, target] = mmap[:, 0]
        return xin, mmap.contiguous()

    def outputs(self, i):
        c, x, mask = self.c, i["x"], i["mask"]
        C = x.shape[1]
        out = {"G_ct.target0": self.G_ct(*self.ctoc_input(x, 0, mask))}
        translated = torch.cat([self.G_ct(*self.ctoc_input(x, t, mask)) for t in range(C)], 1)
        zct = (x - translated).abs()
        zdr = self.DR.reduce(x)
        z = torch.cat([zct, zdr], 1)
        gamma = self.G_de(z)
        out.update({"Z_ct": zct, "Z_dr": zdr, "F_dr": self.DR.reconstruct(zdr), "G_de": gamma})
        w = pixels(mask)[:, 0]
        phi, mu, cov = gmm_parameters(pixels(z), pixels(gamma), w)
        energy = gmm_energy(pixels(z), phi, mu, guard_covariance(cov, c["eps"]))
        wd = w.double()
        e_mean = (energy * wd).sum() / wd.sum().clamp_min(1.0)
        m = mask.to(x.dtype)
        recon = ((x - self.DR.reconstruct(zdr)).pow(2) * m).sum() / m.sum().clamp_min(1.0)
        out["density_loss"] = (recon + c["lambda"] * e_mean.float()).reshape(1)
        if self.gmm["gmm_fitted"].item() != 0:
            out["energy_fixed"] = gmm_energy(pixels(z), self.gmm["gmm_phi"], self.gmm["gmm_mu"], self.gmm["gmm_cov"])
        return out


KINDS = {"anogan": AnoGan, "fanogan": FAnoGan, "sparsegan": SparseGan, "a2bgan": A2BGan, "adm": Adm}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="the model card (.json) written by AnomalyLens")
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--outputs", required=True, help="what LibTorch computed")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()

    torch.set_num_threads(1)
    with open(args.model) as f:
        card = json.load(f)
    import os
    weights = read_safetensors(os.path.join(os.path.dirname(args.model), card["weights"]["file"]))
    net = KINDS[card["kind"]](card["config"])
    if card["kind"] == "adm":
        net.gmm = {k: weights.pop(k) for k in list(weights) if k.startswith("gmm_") or k == "hyperintensity_p99"}
    net.load_state_dict(weights, strict=True)
    net.eval()
    inputs = read_safetensors(args.inputs)
    expected = read_safetensors(args.outputs)
    got = net.outputs(inputs)

    worst, failed = 0.0, []
    for name in sorted(expected):
        if name not in got:
            failed.append(name)
            print(f"{name}: the reference does not compute it")
            continue
        a, b = expected[name].double(), got[name].detach().double()
        if a.shape != b.shape:
            failed.append(name)
            print(f"{name}: shape {tuple(a.shape)} (LibTorch) vs {tuple(b.shape)} (Python)")
            continue
        err = ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()
        worst = max(worst, err)
        print(f"{card['kind']:10s} {name:16s} max relative error {err:.2e}")
        if not err < args.tolerance:
            failed.append(name)
    missing = sorted(set(got) - set(expected))
    if missing:
        print("computed by the reference but not by LibTorch:", ", ".join(missing))
        failed += missing
    print(f"{card['kind']}: worst {worst:.2e}, {'FAILED: ' + ', '.join(failed) if failed else 'all within'} "
          f"tolerance {args.tolerance:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
