#pragma once
// A volume's description as JSON: what `anomalylens-cli info --json` prints and what the
// viewer's properties show.

#include <nlohmann/json_fwd.hpp>

#include "image/Volume.h"

namespace al {

nlohmann::json describeVolume(const Volume& volume);

}  // namespace al
