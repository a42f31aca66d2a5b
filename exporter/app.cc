#include "exporter/app.h"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <optional>

#include "collectors/core/family_set.h"
#include "collectors/core/metric_family_builder.h"
#include "exporter/metric_families.h"
#include "exporter/status_page.h"
#include "exporter/tls_requirement.h"
#include "exporter/version.h"
#include "exporter/web_security.h"

namespace sidecar {
namespace {

double UnixSeconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

// Time kept back from Prometheus' scrape timeout for serialising and sending the answer.
constexpr std::chrono::milliseconds kScrapeTimeoutOffset{250};

}  // namespace

App::App(AppOptions options, Logger& logger)
    : options_(std::move(options)),
      logger_(logger),
      started_(std::chrono::system_clock::now()),
      status_history_(kStatusHistoryCapacity) {}

App::~App() { Stop(); }

int App::port() const { return server_ ? server_->port() : 0; }

bool App::Start() {
  ConfigLoad load = LoadConfigFile(options_.config_file);
  if (!load.config) {
    for (const auto& error : load.errors) {
      logger_.Error("invalid configuration", {{"error", error.ToString()}});
    }
    return false;
  }

  std::map<std::string, HttpServer::Handler> routes = {
      {options_.telemetry_path, [this](const auto& request) { return ServeMetrics(request); }},
      {"/healthz", [this](const auto& request) { return ServeHealthz(request); }},
      {"/readyz", [this](const auto& request) { return ServeReadyz(request); }},
      {"/api/v1/status", [this](const auto& request) { return ServeStatusJson(request); }},
  };
  // The status page lives at "/", unless the metrics themselves were put there.
  routes.emplace("/", [this](const auto& request) { return ServeStatusPage(request); });
  HttpServerOptions server_options;
  server_options.listen_address = options_.listen_address;
  server_options.threads = options_.web_threads;
  if (!options_.web_config_file.empty()) {
    const auto problems = ApplyWebConfigFile(options_.web_config_file, logger_, server_options);
    for (const auto& problem : problems) {
      logger_.Error("invalid web configuration", {{"error", problem}});
    }
    if (!problems.empty()) return false;
    tls_ = server_options.tls;
  }
  try {
    server_ = std::make_unique<HttpServer>(server_options, std::move(routes));
  } catch (const std::exception& e) {
    logger_.Error("cannot start the HTTP server", {{"error", e.what()}});
    return false;
  }
  std::string address = options_.listen_address;
  address = address.substr(0, address.rfind(':') + 1) + std::to_string(server_->port());
  logger_.Info("listening", {{"address", address}, {"telemetry_path", options_.telemetry_path}});

  try {
    auto active = Build(*load.config, nullptr);
    std::lock_guard lock(mutex_);
    active_ = std::move(active);
    last_reload_success_unix_seconds_ = UnixSeconds(std::chrono::system_clock::now());
  } catch (const std::exception& e) {
    logger_.Error("cannot start collectors", {{"error", e.what()}});
    return false;
  }
  ready_ = true;
  if (options_.status_sample_interval > std::chrono::milliseconds::zero()) {
    status_sampler_ = std::jthread([this](std::stop_token stop) { SampleStatus(stop); });
  }
  logger_.Info("ready", {{"collectors", std::to_string(load.config->collectors.size())},
                         {"version", Version()},
                         {"revision", Revision()}});
  return true;
}

std::shared_ptr<const App::Active> App::Build(const Config& config, const Active* previous) {
  auto active = std::make_shared<Active>();
  active->timeout = config.timeout;
  active->const_labels = config.const_labels;
  // Build every new collector first, without starting it: if one fails, nothing has changed and
  // the running collectors keep their tail loops.
  std::vector<std::shared_ptr<CollectorRunner>> replaced;
  std::vector<std::shared_ptr<CollectorRunner>> built;
  for (const CollectorConfig& collector : config.collectors) {
    std::shared_ptr<CollectorRunner> runner;
    if (previous != nullptr) {
      for (const auto& old : previous->runners) {
        if (old->name() != collector.name) continue;
        if (old->type() == collector.type && old->fingerprint() == collector.fingerprint) {
          runner = old;
        } else {
          replaced.push_back(old);
        }
      }
    }
    if (!runner) {
      runner = std::make_shared<CollectorRunner>(
          collector.name, collector.type, collector.fingerprint, collector.factory(), logger_);
      built.push_back(runner);
    }
    active->runners.push_back(std::move(runner));
  }
  // Then retire the changed ones, so that their replacements resume where their exported counts
  // end (log positions) and the two never read the same lines, and start the new ones.
  for (const auto& old : replaced) old->Retire();
  for (const auto& runner : built) {
    runner->Start();
    logger_.Debug("collector started", {{"collector", runner->name()}, {"type", runner->type()}});
  }
  return active;
}

void App::Reload() {
  logger_.Info("reloading configuration", {{"file", options_.config_file}});
  ConfigLoad load = LoadConfigFile(options_.config_file);
  std::string error;
  std::shared_ptr<const Active> active;
  if (!load.config) {
    for (const auto& config_error : load.errors) {
      logger_.Error("invalid configuration; keeping the running one",
                    {{"error", config_error.ToString()}});
    }
    error = load.errors.empty() ? "invalid configuration" : load.errors.front().ToString();
    if (load.errors.size() > 1)
      error += " (and " + std::to_string(load.errors.size() - 1) + " more)";
  } else if (const auto needs_tls =
                 options_.tls_available ? std::nullopt : ConfigFileNeedsTls(options_.config_file)) {
    error = "the new configuration needs TLS (" + *needs_tls +
            "), which this sidecar-exporter was built without; restart the container to run "
            "sidecar-exporter-tls with it";
    logger_.Error("cannot reload; keeping the running configuration", {{"error", error}});
  } else {
    try {
      active = Build(*load.config, Snapshot().get());
    } catch (const std::exception& e) {
      error = e.what();
      logger_.Error("cannot build collectors; keeping the running ones", {{"error", error}});
    }
  }
  std::shared_ptr<const Active> retired;
  {
    std::lock_guard lock(mutex_);
    if (active) {
      retired = std::exchange(active_, std::move(active));
      last_reload_successful_ = true;
      last_reload_error_.clear();
      last_reload_success_unix_seconds_ = UnixSeconds(std::chrono::system_clock::now());
    } else {
      last_reload_successful_ = false;
      last_reload_error_ = error;
      ++reload_failures_total_;
    }
  }
  // Collectors dropped by the new config stop here, outside the lock, once no scrape holds them.
  retired.reset();
  if (error.empty()) logger_.Info("configuration reloaded");
}

void App::Stop() {
  stop_.request_stop();
  ready_ = false;
  // The sampler first: its collections commit log positions too, and after the last scrape's
  // answer nothing may commit what no scrape returned.
  if (status_sampler_.joinable()) {
    status_sampler_.request_stop();
    status_sampler_.join();
  }
  // Scrapes in flight still get their answers (ConnectionGate drains), new ones are refused.
  server_.reset();
  std::lock_guard lock(mutex_);
  active_.reset();
}

std::shared_ptr<const App::Active> App::Snapshot() const {
  std::lock_guard lock(mutex_);
  return active_;
}

std::vector<std::shared_ptr<const CollectResult>> App::CollectAll(
    const Active& active, std::chrono::steady_clock::time_point deadline) {
  std::vector<std::shared_ptr<const CollectResult>> results(active.runners.size());
  const auto collect = [&](size_t i) {
    CollectContext context;
    context.deadline = std::min(deadline, std::chrono::steady_clock::now() + active.timeout);
    context.stop = stop_.get_token();
    results[i] = active.runners[i]->Collect(context);
  };
  // Collectors run concurrently so that one slow source does not delay the others.
  std::vector<std::future<void>> pending;
  for (size_t i = 1; i < active.runners.size(); ++i) {
    pending.push_back(std::async(std::launch::async, collect, i));
  }
  if (!active.runners.empty()) collect(0);
  for (auto& future : pending) future.get();
  return results;
}

Gathered App::Gather(std::chrono::steady_clock::time_point deadline) {
  const std::shared_ptr<const Active> active = Snapshot();
  Gathered gathered;
  FamilySet families;
  using prometheus::MetricType;
  MetricFamilyBuilder success("sidecar_exporter_collector_success",
                              "Whether the collector succeeded in this scrape (1) or not (0).",
                              MetricType::Gauge);
  MetricFamilyBuilder duration("sidecar_exporter_collector_duration_seconds",
                               "How long the collector's last run took, in seconds.",
                               MetricType::Gauge);
  MetricFamilyBuilder errors("sidecar_exporter_collector_errors_total",
                             "Runs of the collector that failed (source down, slow or garbled).",
                             MetricType::Counter);
  if (active) {
    gathered.results = CollectAll(*active, deadline);
    for (size_t i = 0; i < active->runners.size(); ++i) {
      CollectorRunner& runner = *active->runners[i];
      const CollectResult& result = *gathered.results[i];
      // Compact families first: a log collector's come before its pipeline metrics.
      runner.CountDroppedSeries("type_clash",
                                families.AddAll(result.series) + families.AddAll(result.families));
      const std::string& name = runner.name();
      success.Add(result.error ? 0 : 1, {{"collector", name}});
    }
  }
  families.Add(success.Build());
  families.Add(
      MetricFamilyBuilder("sidecar_exporter_build_info",
                          "Build information of sidecar-exporter; always 1.", MetricType::Gauge)
          .Add(1, {{"version", std::string(Version())}, {"revision", std::string(Revision())}})
          .Build());
  {
    std::lock_guard lock(mutex_);
    families.Add(MetricFamilyBuilder("sidecar_exporter_config_last_reload_successful",
                                     "Whether the last configuration load succeeded.",
                                     MetricType::Gauge)
                     .Add(last_reload_successful_ ? 1 : 0)
                     .Build());
    families.Add(
        MetricFamilyBuilder("sidecar_exporter_config_last_reload_success_timestamp_seconds",
                            "When the configuration was last loaded successfully, in unix seconds.",
                            MetricType::Gauge)
            .Add(last_reload_success_unix_seconds_)
            .Build());
    families.Add(MetricFamilyBuilder("sidecar_exporter_config_reload_failures_total",
                                     "Configuration reloads (SIGHUP) that failed and kept "
                                     "the running configuration.",
                                     MetricType::Counter)
                     .Add(static_cast<double>(reload_failures_total_))
                     .Build());
  }
  families.AddAll(process_collector_.Collect(CollectContext{}).families);
  if (tls_) families.AddAll(tls_->Collect());

  // The main containers' own families come last: every name the exporter uses is known by then,
  // so that a clash drops the merged family, never one of the exporter's.
  // Built only when some collector merged families: it copies every name the exporter exposes.
  std::size_t merged_families = 0;
  for (const auto& result : gathered.results) merged_families += result->merged.size();
  std::optional<MergedFamilySet> merged;
  if (merged_families != 0) {
    merged.emplace(families.families());
    merged->Reserve(merged_families);
  }
  MetricFamilyBuilder dropped(
      "sidecar_exporter_merge_dropped_series_total",
      "Series left out of /metrics, by reason (type_clash: another collector exports a family of "
      "the same name with another type; name_clash: a family merged from the main container has "
      "the name of one of the exporter's own).",
      MetricType::Counter);
  if (active) {
    for (size_t i = 0; i < active->runners.size(); ++i) {
      CollectorRunner& runner = *active->runners[i];
      std::uint64_t name_clashes = 0;
      std::uint64_t type_clashes = 0;
      for (const MergedFamily& family : gathered.results[i]->merged) {
        switch (merged->Add(family)) {
          case MergedFamilySet::Outcome::kNameClash:
            name_clashes += family.samples.size();
            break;
          case MergedFamilySet::Outcome::kTypeClash:
            type_clashes += family.samples.size();
            break;
          case MergedFamilySet::Outcome::kAdded:
            break;
        }
      }
      runner.CountDroppedSeries("name_clash", name_clashes);
      runner.CountDroppedSeries("type_clash", type_clashes);
      // State after this scrape's counts, so that they show in this very scrape.
      const CollectorState state = runner.State();
      const std::string& name = runner.name();
      duration.Add(state.last_duration_seconds, {{"collector", name}});
      errors.Add(static_cast<double>(state.errors_total), {{"collector", name}});
      for (const auto& [reason, series] : state.dropped_series_total) {
        dropped.Add(static_cast<double>(series), {{"collector", name}, {"reason", reason}});
      }
    }
  }
  families.Add(duration.Build());
  families.Add(errors.Build());
  if (!dropped.empty()) families.Add(dropped.Build());
  // The serialiser adds them to each series as it writes it: cheaper than growing the label
  // vector of every series here.
  if (active) gathered.const_labels = active->const_labels;
  gathered.series = families.series();
  gathered.families = std::move(families).Take();
  if (merged) gathered.merged = std::move(*merged).TakeGroups();
  return gathered;
}

HttpReply App::ServeMetrics(const HttpRequestInfo& request) {
  ++scrapes_total_;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  if (request.scrape_timeout_seconds) {
    const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(*request.scrape_timeout_seconds));
    deadline =
        std::chrono::steady_clock::now() + std::max(budget - kScrapeTimeoutOffset, budget / 2);
  }
  const auto produce = [&] {
    // The families die as soon as they are written, before the exposition is served.
    return Exposition::Write(exposition_buffers_, deadline,
                             [&](std::string& text) { AppendText(Gather(deadline), text); });
  };
  // One exposition is built at a time, and a scrape that arrives while one is being built (or
  // waits for its buffer, see ExpositionBuffers) takes that one instead of starting another:
  // its values were read at most one build before the scrape arrived, and a build is bounded by
  // the collectors' timeout, whereas waiting for a build of its own would double the scrape's
  // latency and, with a slow main container, push it past Prometheus' timeout. A scrape never
  // gets an exposition that was finished before it arrived. Only a joiner whose own deadline
  // passes before the build it joined ends (a scraper with a shorter timeout than the one that
  // started it) builds its own, in which the collectors still running report the missed
  // deadline.
  std::shared_ptr<const Exposition> exposition = scrapes_.Run(deadline, produce);
  if (!exposition) exposition = produce();
  HttpReply reply;
  reply.content_type = kTextContentType;
  // The reply shares the exposition's text (or gzip encoding), copying neither.
  if (request.accepts_gzip && exposition->text().size() >= 1024) {
    reply.shared_body = std::shared_ptr<const std::string>(exposition, &exposition->gzipped());
    reply.gzip_encoded = true;
  } else {
    reply.shared_body = std::shared_ptr<const std::string>(exposition, &exposition->text());
    reply.compressible = true;
  }
  return reply;
}

std::string App::HealthProblem() const {
  const auto active = Snapshot();
  if (!active) return {};
  const auto now = std::chrono::steady_clock::now();
  std::string problems;
  for (const auto& runner : active->runners) {
    if (auto stuck = runner->Stuck(now)) problems += (problems.empty() ? "" : "; ") + *stuck;
  }
  return problems;
}

std::string App::ReadinessProblem() const {
  if (ready_) return {};
  if (stop_.stop_requested()) return "shutting down";
  return "collectors are not initialised yet";
}

HttpReply App::ServeHealthz(const HttpRequestInfo&) {
  HttpReply reply;
  const std::string problem = HealthProblem();
  if (problem.empty()) {
    reply.body = "ok\n";
  } else {
    reply.status = 503;
    reply.body = "unhealthy: " + problem + "\n";
  }
  return reply;
}

HttpReply App::ServeReadyz(const HttpRequestInfo&) {
  HttpReply reply;
  const std::string problem = ReadinessProblem();
  if (problem.empty()) {
    reply.body = "ready\n";
  } else {
    reply.status = 503;
    reply.body = "not ready: " + problem + "\n";
  }
  return reply;
}

void App::SampleStatus(std::stop_token stop) {
  StatusSampler sampler;
  std::mutex mutex;
  std::condition_variable_any wake;
  // The first snapshot one interval after start, so that start-up fetches are the scrapes' own.
  const auto interval = options_.status_sample_interval;
  auto next = std::chrono::steady_clock::now() + interval;
  std::chrono::steady_clock::time_point own_run_ended;
  while (true) {
    {
      std::unique_lock lock(mutex);
      if (wake.wait_until(lock, stop, next, [] { return false; }) || stop.stop_requested()) return;
    }
    next += interval;
    const auto active = Snapshot();
    if (!active) continue;
    // A result a scrape got within the interval is what a run now would say; reusing it keeps
    // the page from adding fetches of the main container while Prometheus scrapes often. Only a
    // scrape's, though: the sampler's own last run ended less than an interval ago too, and
    // reusing it would repeat the previous snapshot. Otherwise collectors run as for a scrape
    // (sharing a run in flight).
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<const CollectResult>> results;
    bool fresh = true;
    for (const auto& runner : active->runners) {
      auto [result, at] = runner->LastResult();
      fresh = fresh && result && at > own_run_ended && now - at < interval;
      results.push_back(std::move(result));
    }
    if (!fresh) {
      results = CollectAll(*active, now + active->timeout);
      own_run_ended = std::chrono::steady_clock::now();
    }
    std::vector<CollectorOutput> outputs;
    for (size_t i = 0; i < results.size(); ++i) {
      const CollectorRunner& runner = *active->runners[i];
      outputs.push_back({runner.name(), runner.type(), !results[i]->error,
                         runner.State().last_duration_seconds, &results[i]->families,
                         &results[i]->series});
    }
    const auto process = process_collector_.Collect(CollectContext{});
    status_history_.Add(sampler.Sample(std::chrono::system_clock::now(), outputs, process.families,
                                       static_cast<double>(scrapes_total_)));
  }
}

StatusPageData App::PageData() const {
  StatusPageData data;
  data.version = Version();
  data.revision = Revision();
  data.started = started_;
  data.now = std::chrono::system_clock::now();
  data.config_file = options_.config_file;
  data.telemetry_path = options_.telemetry_path;
  {
    std::lock_guard lock(mutex_);
    data.last_reload_successful = last_reload_successful_;
    data.last_reload_error = last_reload_error_;
  }
  const std::string health = HealthProblem();
  data.health = health.empty() ? "ok" : health;
  const std::string readiness = ReadinessProblem();
  data.readiness = readiness.empty() ? "ready" : readiness;
  if (const auto active = Snapshot()) {
    for (const auto& runner : active->runners) data.collectors.push_back(runner->State());
  }
  return data;
}

HttpReply App::ServeStatusPage(const HttpRequestInfo& request) {
  // The page shows the history the sampler keeps; loading it runs no collector.
  const auto history = status_history_.Snapshots();
  const StatusReport report =
      BuildStatusReport(PageData(), history, options_.status_sample_interval,
                        status_history_.capacity(), status_history_.ApproximateBytes());
  HttpReply reply;
  reply.compressible = true;
  reply.headers.emplace_back("Cache-Control", "no-store");
  reply.headers.emplace_back("Vary", "Accept");
  if (PrefersPlainText(request.accept)) {
    reply.body = RenderStatusText(report);
    return reply;
  }
  reply.content_type = "text/html; charset=utf-8";
  // Nothing on the page may load from anywhere: no script, no remote style, font or image.
  reply.headers.emplace_back("Content-Security-Policy",
                             "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                             "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  const bool stop_refresh = request.query.find("refresh=0") != std::string::npos;
  reply.body = RenderStatusPage(report, stop_refresh ? 0 : 10);
  return reply;
}

HttpReply App::ServeStatusJson(const HttpRequestInfo&) {
  const auto history = status_history_.Snapshots();
  HttpReply reply;
  reply.content_type = "application/json";
  reply.compressible = true;
  reply.headers.emplace_back("Cache-Control", "no-store");
  reply.body = RenderStatusJson(
      BuildStatusReport(PageData(), history, options_.status_sample_interval,
                        status_history_.capacity(), status_history_.ApproximateBytes()));
  return reply;
}

}  // namespace sidecar
