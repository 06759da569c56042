#pragma once

namespace al {
// Registers the ITK ImageIO factories AnomalyLens uses (NIfTI, MetaImage, NRRD, PNG). Idempotent
// and thread-safe; every ITK reading or writing path calls it first.
void registerItkImageIOFactories();
}  // namespace al
