// run_ingest(): logging, signals, the ring publisher, then the loop for the source's kind.
#include "framering/ingest/ingest.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "av_util.hpp"
#include "framering/ingest/redact.hpp"
#include "framering/ingest/source_spec.hpp"
#include "framering/metrics/catalogue.hpp"
#include "framering/metrics/preview.hpp"
#include "framering/ringbuf/error.hpp"
#include "publisher.hpp"
#include "sources.hpp"
#include "stop_signal.hpp"
#include "video_input.hpp"

namespace framering::ingest {

namespace {

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("ingest");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e ingest %^%l%$: %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

int run_ingest(const IngestOptions& options) {
  if (!spdlog::get("ingest")) setup_logging(options.log_level);
  const std::string label = redact_source(options.source);
  int code = 0;
  try {
    validate_options(options);
    const SourceSpec spec = parse_source(options.source);
    const auto level = spdlog::get_level();
    route_av_logs(source_secrets(options.source), level <= spdlog::level::debug);
    install_stop_handlers();
    metrics::Endpoint endpoint(options.metrics_addr);
    if (endpoint.serving()) spdlog::info("metrics on http://{}/metrics", endpoint.address());
    metrics::IngestMetrics& ingest_metrics = endpoint.ingest(options.ring);
    std::optional<metrics::PreviewServer> preview;
    if (!options.preview_addr.empty()) {
      // Drawing boxes into /preview.jpg copies the rows they cross: counted as the ingest's copies.
      preview.emplace(options.preview_addr, options.ring, options.preview_events,
                      options.preview_hosts, options.preview_snapshots,
                      [&ingest_metrics](std::size_t bytes) {
                        ingest_metrics.bytes_copied.Increment(static_cast<double>(bytes));
                      });
      spdlog::info("newest frame on http://{}/preview", preview->address());
      if (preview->public_address()) {
        spdlog::warn(
            "--preview-addr {} is not a loopback address: anyone who can reach it sees "
            "the camera; bind 127.0.0.1 and tunnel to it instead where you can",
            preview->address());
      }
    }
    ingest_metrics.source_up.Set(0.0);

    // With --width/--height the video path creates the ring once the source is open (with
    // its frame rate) and before its first frame, so readers can attach early.
    Publisher publisher(options, label, ingest_metrics);
    code = spec.kind == SourceKind::kNpy ? run_npy_source(options, spec, label, publisher)
                                         : run_video_source(options, spec, label, publisher);
    const IngestCounters& c = publisher.counters();
    if (!options.packets_only)
      spdlog::info("published {} frames ({} MiB), {} aborted, {} decode errors, {} reconnects",
                   c.frames, c.bytes >> 20, c.aborted, c.decode_errors, c.reconnects);
    publisher.close();
  } catch (const metrics::MetricsError& e) {
    // Messages may echo a flag's value; a URL in the wrong flag must not show its password.
    spdlog::error("{}", redact_urls(e.what()));
    return 2;
  } catch (const ConfigError& e) {
    spdlog::error("{}", redact_urls(e.what()));
    return 2;
  } catch (const ring::RingError& e) {
    spdlog::error("{}", redact_urls(e.what()));
    return e.exit_code();
  } catch (const SourceError& e) {
    spdlog::error("{}", redact_urls(e.what()));
    return 3;
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", label, redact_urls(e.what()));
    return 3;
  }
  return code;
}

}  // namespace framering::ingest
