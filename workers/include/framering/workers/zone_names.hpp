// The name rule of a zone (`zones=driveway:...|gate:...` of the objects analytic): 1-64 characters
// from A-Z a-z 0-9 _ -. The analytic checks --param zones with it; `framering run` checks a
// config's `zones:` keys with it, so both refuse the same names.
#pragma once

#include <string>

namespace framering::workers {

bool valid_zone_name(const std::string& name);

}  // namespace framering::workers
