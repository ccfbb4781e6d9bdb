// Label values we are willing to export. Ring, worker and event-kind names are short identifiers;
// anything that looks like a URL or credentials is refused, so a source URL (which may carry a
// password) can never leak into a label and explode cardinality.
#pragma once

#include <string>

namespace framering::metrics {

// Throws MetricsError naming `what` (e.g. "ring") unless `value` is 1..64 chars of
// [A-Za-z0-9_.:-] and contains no "://".
void check_label_value(const std::string& what, const std::string& value);

}  // namespace framering::metrics
