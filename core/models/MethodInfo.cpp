#include "models/AnomalyModel.h"

#include <cctype>

namespace al::models {

std::vector<ModelKind> allModelKinds() {
  return {ModelKind::AnoGan, ModelKind::FAnoGan, ModelKind::SparseGan, ModelKind::A2BGan, ModelKind::Adm};
}

std::string toString(ModelKind kind) {
  switch (kind) {
    case ModelKind::AnoGan: return "anogan";
    case ModelKind::FAnoGan: return "fanogan";
    case ModelKind::SparseGan: return "sparsegan";
    case ModelKind::A2BGan: return "a2bgan";
    case ModelKind::Adm: return "adm";
  }
  return "unknown";
}

std::string displayName(ModelKind kind) {
  switch (kind) {
    case ModelKind::AnoGan: return "AnoGAN";
    case ModelKind::FAnoGan: return "f-AnoGAN";
    case ModelKind::SparseGan: return "Sparse-GAN";
    case ModelKind::A2BGan: return "A2B-GAN";
    case ModelKind::Adm: return "ADM (multi-contrast MRI)";
  }
  return "unknown";
}

ModelKind modelKindFromString(const std::string& name) {
  std::string n;
  for (char c : name)
    if (c != '-' && c != '_') n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (ModelKind k : allModelKinds())
    if (n == toString(k)) return k;
  throw Error("model kind \"" + name + "\"", "unknown; choose anogan, fanogan, sparsegan, a2bgan or adm");
}

MethodInfo methodInfo(ModelKind kind) {
  switch (kind) {
    case ModelKind::AnoGan:
      return {kind, "AnoGAN",
              "Schlegl et al., Unsupervised anomaly detection with generative adversarial networks "
              "to guide marker discovery, IPMI 2017",
              "healthy 64x64 OCT patches (retina flattened), intensities in [-1, 1]",
              "(1-λ)·residual + λ·discrimination loss after Γ steps of latent search (λ = 0.1)",
              "residual |x - G(z_Γ)|; slow by design: Γ gradient steps per patch",
              "",
              "1,000,000 training patches from 270 healthy volumes; 8,192 test patches from 10 healthy "
              "and 10 fluid volumes; a patch is anomalous with at least one fluid pixel; sensitivity, "
              "specificity and precision at the Youden index of the test ROC",
              "OCT image AUC 0.846 (as reported in the Sparse-GAN paper, OCT2017)"};
    case ModelKind::FAnoGan:
      return {kind, "f-AnoGAN",
              "Schlegl et al., f-AnoGAN: Fast unsupervised anomaly detection with generative "
              "adversarial networks, Medical Image Analysis 2019",
              "healthy 64x64 OCT patches (retina flattened), intensities in [-1, 1]",
              "A_R + κ·A_D: image and critic-feature residuals of x against G(E(x)) (κ = 1)",
              "residual |x - G(E(x))|, patches tiled over the B-scan",
              "",
              "about 850,000 training patches from 270 healthy volumes; 70,000 test patches (70% "
              "normal, 30% with fluid) from 10 healthy and 10 fluid volumes; metrics at the Youden "
              "index of the test ROC",
              "image AUC 0.930 and pixel AUC 0.7831 on its OCT patches; 0.882 on OCT2017 (Sparse-GAN paper)"};
    case ModelKind::SparseGan:
      return {kind, "Sparse-GAN",
              "Zhou et al., Sparse-GAN: Sparsity-constrained generative adversarial network for "
              "anomaly detection in retinal OCT image, ISBI 2020",
              "healthy whole B-scans resized to 224x224, intensities in [-1, 1]",
              "||G_en(x) - G_en(G(x))||₂ in the latent space",
              "Anomaly Activation Map (latent channels weighted by their pooled difference); also |x - G(x)|",
              "",
              "50,140 normal OCT2017 training images; validation 3,000 disease + 1,000 normal; test the "
              "OCT2017 test split; threshold chosen on validation",
              "test AUC 0.925, accuracy 0.841, sensitivity 0.951; validation AUC 0.885"};
    case ModelKind::A2BGan:
      return {kind, "A2B-GAN",
              "A2B-GAN / HealthyGAN: learning to translate a mixed set to healthy images with masks "
              "(the authors' HealthyGAN code)",
              "a healthy set B and an unlabelled mixed set A (healthy and diseased, no labels)",
              "mean |x - B'(x)| / 2 over pixels and channels",
              "difference |x - B'(x)| and the generator's mask M",
              "an unlabelled mixed set (healthy and diseased images) besides the healthy set",
              "COVIDx: B = 10,031 negatives, A = 3,663 negatives + 1,570 positives, test 100 + 100; "
              "ChestX-ray8 cardiomegaly PA views; AUC only",
              "AUC 0.836 (COVIDx), 0.6015 (ChestX-ray8 cardiomegaly)"};
    case ModelKind::Adm:
      return {kind, "ADM",
              "Kim et al., anomaly detection in multi-contrast MRI with contrast translation and a "
              "Gaussian mixture density model",
              "co-registered, skull-stripped multi-contrast slices (e.g. T1, T1c, T2, FLAIR), each "
              "contrast z-scored over the brain, 128x128",
              "the 99th percentile of the GMM energy inside the brain mask (the paper is pixel-level only)",
              "GMM energy map (per-pixel negative log-likelihood under the healthy mixture); also the "
              "contrast-translation error",
              "co-registered contrasts and a brain mask",
              "BraTS 2019: 7,790 normal slices train, 14,185 anomalous slices validate, 2,100 slices of "
              "20 patients test; ISLES 2015: 828 normal / 900 anomalous / 875 test slices; pixel AUC "
              "with background excluded; precision and recall at the best-F1 threshold on validation",
              "pixel AUC 0.939 (BraTS test), 0.871 (ISLES test)"};
  }
  throw Error("model kind", "unknown");
}

}  // namespace al::models
