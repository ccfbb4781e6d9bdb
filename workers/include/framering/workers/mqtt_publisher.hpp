// Publishes a worker's events to an MQTT broker (libmosquitto) from its own thread, so the
// analysis never waits on the network:
//   <prefix>/<camera>/events              every event, QoS 1, in order
//   <prefix>/<camera>/<analytic>/state    the present (retained, QoS 1), latest value only
//   <prefix>/<camera>/<worker>/available  "online" (retained) on connect; "offline" as the Last
//                                         Will, so a killed process is marked offline by the broker
// Events wait in a bounded queue until the broker acknowledges them (PUBACK); when the broker
// is down they accumulate there (the oldest dropped and counted beyond the bound) and go out
// after the reconnect, which retries with a growing delay (0.25 s doubling up to 4 s).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "framering/metrics/catalogue.hpp"
#include "framering/workers/log.hpp"
#include "framering/workers/mqtt_settings.hpp"
#include "framering/workers/mqtt_url.hpp"

struct mosquitto;
struct mosquitto_message;

namespace framering::workers {

class MqttPublisher {
 public:
  // Validates the settings (ConfigError) and starts connecting in the background.
  MqttPublisher(const MqttSettings& settings, const std::string& camera, const std::string& worker,
                Log log, metrics::MqttMetrics* metrics);
  // Sends what is queued (up to a few seconds while connected), publishes "offline" and
  // disconnects cleanly.
  ~MqttPublisher();
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  // Never blocks on the broker.
  void event(std::string payload);
  void state(const std::string& analytic, std::string payload);

  std::string events_topic() const { return prefix_ + "/events"; }

 private:
  struct Message {
    std::uint64_t seq = 0;
    std::string payload;
    std::chrono::steady_clock::time_point queued;
  };
  using Clock = std::chrono::steady_clock;

  void run();
  bool connect();
  void session();
  void drain();
  void flush_and_leave();
  void teardown();
  void set_queue_gauge();  // with mutex_ held
  void report_error(const std::string& message);
  // Reports why a connection attempt failed: mosquitto_connect's result, or the first
  // mosquitto_loop's when the TLS handshake finished only there (a slow broker).
  void report_connect_failure(int rc);

  static void on_connect(mosquitto*, void* self, int rc);
  static void on_disconnect(mosquitto*, void* self, int rc);
  static void on_publish(mosquitto*, void* self, int mid);

  MqttSettings settings_;
  MqttUrl url_;
  std::string shown_url_;  // redacted
  std::string prefix_;     // <topic_prefix>/<camera>
  std::string available_topic_;
  Log log_;
  metrics::MqttMetrics* metrics_;

  std::mutex mutex_;  // guards everything below shared with the analysis thread
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<Message> queue_;
  std::map<int, Message> inflight_;            // by message id, until PUBACK
  std::map<std::string, std::string> states_;  // topic -> latest payload
  std::map<std::string, bool> states_dirty_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t dropped_ = 0;

  // Publisher thread only.
  mosquitto* mosq_ = nullptr;
  bool acked_ = false;   // CONNACK accepted
  bool lost_ = false;    // disconnected (or refused)
  bool online_ = false;  // "online" sent in this session
  std::string last_error_;
  Clock::time_point last_error_at_{};
  std::thread thread_;
};

}  // namespace framering::workers
