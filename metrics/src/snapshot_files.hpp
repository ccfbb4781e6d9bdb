// /snapshots/<camera>/<id>.jpg on the preview address: worker snapshots (--snapshots DIR) served
// read-only. The path comes from the client, so it is checked before anything is opened: two
// plain name components, a .jpg file, no symbolic link on the way, a regular JPEG file.
#pragma once

#include <string>

#include "framering/metrics/catalogue.hpp"

namespace framering::metrics {

// The response for `rest` (the request path after "/snapshots/") under `dir`: 200 with the
// JPEG, or 404 for anything else (malformed name, "..", not .jpg, symbolic link, missing file).
HttpResponse serve_snapshot(const std::string& dir, const std::string& rest);

}  // namespace framering::metrics
