#include "framering/workers/mqtt_publisher.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "framering/workers/config_error.hpp"

namespace framering::workers {

namespace {

using namespace std::chrono_literals;

constexpr auto kMinBackoff = 250ms;
constexpr auto kMaxBackoff = 4000ms;
constexpr auto kLoopWait = 50;            // ms per mosquitto_loop: bounds the delay of a new event
constexpr std::size_t kMaxInflight = 32;  // published, waiting for PUBACK
constexpr auto kFlushTimeout = 3s;        // at exit: how long queued events may still take
constexpr int kKeepaliveSeconds = 10;
constexpr auto kRepeatError = 30s;  // the same connection error is logged again after this

void init_library() {
  static const int once = [] {
    mosquitto_lib_init();
    return 0;
  }();
  (void)once;
}

}  // namespace

MqttPublisher::MqttPublisher(const MqttSettings& settings, const std::string& camera,
                             const std::string& worker, Log log, metrics::MqttMetrics* metrics)
    : settings_(settings),
      url_(parse_mqtt_url(settings.url, "--mqtt")),
      shown_url_(redacted_mqtt_url(settings.url)),
      log_(std::move(log)),
      metrics_(metrics) {
  check_mqtt_settings(settings_);
  prefix_ = settings_.topic_prefix + "/" + camera;
  available_topic_ = prefix_ + "/" + worker + "/available";
  if (metrics_) metrics_->connected.Set(0);
  init_library();
  log_.info("MQTT: publishing to " + shown_url_ + " under " + prefix_ + "/");
  thread_ = std::thread([this] { run(); });
}

MqttPublisher::~MqttPublisher() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void MqttPublisher::set_queue_gauge() {
  if (metrics_) metrics_->queue_depth.Set(static_cast<double>(queue_.size() + inflight_.size()));
}

void MqttPublisher::event(std::string payload) {
  bool overflow = false;
  {
    const std::lock_guard lock(mutex_);
    if (queue_.size() >= settings_.queue) {
      queue_.pop_front();  // the oldest goes: the newest says more about the present
      overflow = true;
      ++dropped_;
      if (metrics_) metrics_->dropped_queue_full.Increment();
    }
    queue_.push_back(Message{next_seq_++, std::move(payload), Clock::now()});
    set_queue_gauge();
    if (overflow && (dropped_ == 1 || dropped_ % 100 == 0)) {
      log_.warn("MQTT queue full (" + std::to_string(settings_.queue) +
                " events, broker unreachable?): dropped the oldest; " + std::to_string(dropped_) +
                " dropped so far (framering_events_dropped_total)");
    }
  }
}

void MqttPublisher::state(const std::string& analytic, std::string payload) {
  const std::lock_guard lock(mutex_);
  const std::string topic = prefix_ + "/" + analytic + "/state";
  states_[topic] = std::move(payload);
  states_dirty_[topic] = true;
}

void MqttPublisher::report_error(const std::string& message) {
  const auto now = Clock::now();
  if (message != last_error_ || now - last_error_at_ >= kRepeatError) {
    log_.error(message);
    last_error_ = message;
    last_error_at_ = now;
  } else {
    log_.debug(message);
  }
}

void MqttPublisher::on_connect(mosquitto*, void* self, int rc) {
  auto* p = static_cast<MqttPublisher*>(self);
  if (rc == 0) {
    p->acked_ = true;
    return;
  }
  p->lost_ = true;
  p->report_error("MQTT broker " + p->shown_url_ +
                  " refused the connection: " + mosquitto_connack_string(rc) +
                  (rc == 4 || rc == 5 ? " (check the user and password in the MQTT URL)" : "") +
                  "; retrying, events are queued meanwhile");
}

void MqttPublisher::on_disconnect(mosquitto*, void* self, int) {
  static_cast<MqttPublisher*>(self)->lost_ = true;
}

void MqttPublisher::on_publish(mosquitto*, void* self, int mid) {
  auto* p = static_cast<MqttPublisher*>(self);
  const std::lock_guard lock(p->mutex_);
  const auto it = p->inflight_.find(mid);
  if (it == p->inflight_.end()) return;  // a state or availability message
  if (p->metrics_) {
    p->metrics_->publish_latency.Observe(
        std::chrono::duration<double>(Clock::now() - it->second.queued).count());
  }
  p->inflight_.erase(it);
  p->set_queue_gauge();
}

bool MqttPublisher::connect() {
  // A fresh client per connection: what was in flight is ours to resend, in order, so nothing
  // is left in a previous client's own queue to be sent twice.
  mosq_ = mosquitto_new(nullptr, true, this);
  if (!mosq_) {
    report_error(std::string("MQTT: cannot create a client: ") + std::strerror(errno));
    return false;
  }
  acked_ = lost_ = online_ = false;
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_connect_callback_set(mosq_, &MqttPublisher::on_connect);
  mosquitto_disconnect_callback_set(mosq_, &MqttPublisher::on_disconnect);
  mosquitto_publish_callback_set(mosq_, &MqttPublisher::on_publish);
  if (!url_.user.empty()) {
    mosquitto_username_pw_set(mosq_, url_.user.c_str(),
                              url_.password.empty() ? nullptr : url_.password.c_str());
  }
  if (url_.tls) {
    const int rc = mosquitto_tls_set(
        mosq_, settings_.ca_file.empty() ? nullptr : settings_.ca_file.c_str(),
        settings_.ca_file.empty() ? "/etc/ssl/certs" : nullptr, nullptr, nullptr, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      report_error("MQTT: TLS setup failed (" + std::string(mosquitto_strerror(rc)) +
                   "): check --mqtt-ca " + settings_.ca_file);
      return false;
    }
  }
  static const char kOffline[] = "offline";
  mosquitto_will_set(mosq_, available_topic_.c_str(), sizeof kOffline - 1, kOffline, 1, true);
  const int rc = mosquitto_connect(mosq_, url_.host.c_str(), url_.port, kKeepaliveSeconds);
  if (rc != MOSQ_ERR_SUCCESS) {
    report_connect_failure(rc);
    return false;
  }
  return true;
}

void MqttPublisher::report_connect_failure(int rc) {
  if (rc == MOSQ_ERR_TLS) {  // the TCP connection worked; the handshake did not
    report_error("MQTT broker " + shown_url_ +
                 ": TLS handshake failed: its certificate is not signed by " +
                 (settings_.ca_file.empty() ? std::string("a CA in /etc/ssl/certs")
                                            : "the CA in --mqtt-ca " + settings_.ca_file) +
                 ", or does not name host " + url_.host +
                 " (check --mqtt-ca and the URL's host); retrying, events are queued meanwhile");
    return;
  }
  const std::string why = rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc);
  report_error("MQTT broker " + shown_url_ + " unreachable: " + why +
               "; retrying, events are queued meanwhile");
}

void MqttPublisher::drain() {
  const std::lock_guard lock(mutex_);
  for (auto& [topic, dirty] : states_dirty_) {
    if (!dirty) continue;
    const std::string& payload = states_[topic];
    if (mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                          payload.data(), 1, true) == MOSQ_ERR_SUCCESS) {
      dirty = false;
    }
  }
  const std::string topic = events_topic();
  while (inflight_.size() < kMaxInflight && !queue_.empty()) {
    Message& m = queue_.front();
    int mid = 0;
    if (mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(m.payload.size()),
                          m.payload.data(), 1, false) != MOSQ_ERR_SUCCESS) {
      break;  // connection trouble: the loop notices and reconnects
    }
    inflight_.emplace(mid, std::move(m));
    queue_.pop_front();
  }
  set_queue_gauge();
}

void MqttPublisher::session() {
  while (true) {
    {
      const std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    const int rc = mosquitto_loop(mosq_, kLoopWait, 1);
    if (rc != MOSQ_ERR_SUCCESS && !acked_ && !lost_) {
      // mosquitto_connect returns before a TLS handshake the broker has not answered yet
      // completes; its failure then comes from here and is as much worth saying.
      report_connect_failure(rc);
      break;
    }
    if (rc != MOSQ_ERR_SUCCESS || lost_) break;
    if (acked_ && !online_) {
      online_ = true;
      last_error_.clear();
      mosquitto_publish(mosq_, nullptr, available_topic_.c_str(), 6, "online", 1, true);
      {
        const std::lock_guard lock(mutex_);
        for (auto& [topic, dirty] : states_dirty_) dirty = true;  // the broker may have restarted
      }
      if (metrics_) metrics_->connected.Set(1);
      log_.info("MQTT: connected to " + shown_url_);
    }
    if (acked_) drain();
  }
}

void MqttPublisher::flush_and_leave() {
  const auto deadline = Clock::now() + kFlushTimeout;
  while (Clock::now() < deadline && !lost_) {
    drain();
    {
      const std::lock_guard lock(mutex_);
      const bool states_sent = std::none_of(states_dirty_.begin(), states_dirty_.end(),
                                            [](const auto& s) { return s.second; });
      if (queue_.empty() && inflight_.empty() && states_sent) break;
    }
    if (mosquitto_loop(mosq_, kLoopWait, 1) != MOSQ_ERR_SUCCESS) return;
  }
  int mid = 0;
  bool acked = false;
  if (mosquitto_publish(mosq_, &mid, available_topic_.c_str(), 7, "offline", 1, true) ==
      MOSQ_ERR_SUCCESS) {
    // The offline message is not in inflight_; wait until the socket has nothing left to send.
    const auto until = Clock::now() + 1s;
    while (Clock::now() < until && !lost_ && mosquitto_want_write(mosq_)) {
      if (mosquitto_loop(mosq_, kLoopWait, 1) != MOSQ_ERR_SUCCESS) break;
    }
    acked = true;
  }
  (void)acked;
  mosquitto_disconnect(mosq_);
  mosquitto_loop(mosq_, kLoopWait, 1);
}

void MqttPublisher::teardown() {
  const bool was_up = online_;
  if (mosq_) {
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
  }
  if (metrics_) metrics_->connected.Set(0);
  const std::lock_guard lock(mutex_);
  // Unacknowledged events go back to the front, in their original order, to be resent.
  std::vector<Message> back;
  for (auto& [mid, m] : inflight_) back.push_back(std::move(m));
  inflight_.clear();
  std::sort(back.begin(), back.end(),
            [](const Message& a, const Message& b) { return a.seq < b.seq; });
  queue_.insert(queue_.begin(), std::make_move_iterator(back.begin()),
                std::make_move_iterator(back.end()));
  while (queue_.size() > settings_.queue) {
    queue_.pop_front();
    ++dropped_;
    if (metrics_) metrics_->dropped_queue_full.Increment();
  }
  set_queue_gauge();
  if (was_up && !stopping_) {
    log_.warn("MQTT: lost the connection to " + shown_url_ + "; reconnecting, " +
              std::to_string(queue_.size()) + " events queued (bound " +
              std::to_string(settings_.queue) + ")");
  }
}

void MqttPublisher::run() {
  auto backoff = std::chrono::milliseconds(kMinBackoff);
  while (true) {
    {
      const std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    if (connect()) {
      session();
      bool stopping = false;
      {
        const std::lock_guard lock(mutex_);
        stopping = stopping_;
      }
      if (online_) backoff = kMinBackoff;
      if (stopping && online_ && !lost_) {
        flush_and_leave();
        teardown();
        break;
      }
    }
    teardown();
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, backoff, [this] { return stopping_; })) break;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(kMaxBackoff));
  }
  const std::lock_guard lock(mutex_);
  if (!queue_.empty()) {
    log_.warn("MQTT: " + std::to_string(queue_.size()) +
              " queued events not delivered at exit (broker unreachable)");
  }
}

}  // namespace framering::workers
