// Class names of a detector, one per line, in class-id order.
#pragma once

#include <string>
#include <vector>

namespace framering::workers::analytics::objects {

// The 80 COCO names (workers/labels/coco80.txt, compiled in): the classes of YOLOv5/v8/v11 models
// trained on COCO.
const std::vector<std::string>& coco80();

// Reads a labels file: one name per line, trailing whitespace and '\r' trimmed, empty lines at the
// end ignored. Throws ConfigError naming --param labels and the file when it cannot be read,
// is empty, or has an empty line between names.
std::vector<std::string> load_labels(const std::string& path);

}  // namespace framering::workers::analytics::objects
