// The two ingest loops: libav sources (files, RTSP, lavfi) and .npy stacks. Each returns the
// process exit code (0 finished or stopped, 3 source failed) and throws RingError/ConfigError.
#pragma once

#include <string>

#include "framering/ingest/options.hpp"
#include "framering/ingest/source_spec.hpp"
#include "publisher.hpp"

namespace framering::ingest {

int run_video_source(const IngestOptions& options, const SourceSpec& spec, const std::string& label,
                     Publisher& publisher);
int run_npy_source(const IngestOptions& options, const SourceSpec& spec, const std::string& label,
                   Publisher& publisher);

}  // namespace framering::ingest
