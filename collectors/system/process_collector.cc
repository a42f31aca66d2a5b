#include "collectors/system/process_collector.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "collectors/core/metric_family_builder.h"
#include "re2/re2.h"

namespace sidecar {
namespace {

using procfs::ProcessCounts;
using procfs::ProcessIdentity;
using procfs::ProcessSample;
using prometheus::MetricType;

// What one scrape saw of the group, summed over its live processes.
struct GroupReading {
  std::size_t processes = 0;
  std::int64_t threads = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  std::optional<double> swap_bytes = 0;
  std::optional<double> proportional_bytes = 0;
  std::optional<double> proportional_swap_bytes = 0;
  std::optional<double> open_fds = 0;
  std::optional<double> worst_fd_ratio = 0;
  std::optional<double> oldest_start_seconds;
  // Running, Sleeping, Waiting, Zombie, Other, by the state letter of stat.
  double states[5] = {};
};

// prometheus-process-exporter's states: R, S, D, Z, and Other for the rest (T, t, X, I...).
std::size_t StateIndex(char state) {
  switch (state) {
    case 'R':
      return 0;
    case 'S':
      return 1;
    case 'D':
      return 2;
    case 'Z':
      return 3;
    default:
      return 4;
  }
}

void AddOptional(std::optional<double>& sum, const std::optional<std::uint64_t>& value) {
  if (sum && value) {
    *sum += static_cast<double>(*value);
  } else {
    sum.reset();
  }
}

GroupReading Summarise(const std::vector<ProcessSample>& samples,
                       const procfs::ProcessReader& reader) {
  GroupReading reading;
  reading.processes = samples.size();
  for (const ProcessSample& sample : samples) {
    reading.threads += sample.stat.num_threads;
    reading.resident_bytes += static_cast<double>(sample.stat.rss) * reader.page_size();
    reading.virtual_bytes += static_cast<double>(sample.stat.vsize);
    AddOptional(reading.swap_bytes, sample.swap_bytes);
    AddOptional(reading.proportional_bytes, sample.proportional_bytes);
    AddOptional(reading.proportional_swap_bytes, sample.proportional_swap_bytes);
    AddOptional(reading.open_fds, sample.open_fds);
    if (reading.worst_fd_ratio && sample.open_fds && sample.max_fds && *sample.max_fds > 0) {
      reading.worst_fd_ratio =
          std::max(*reading.worst_fd_ratio,
                   static_cast<double>(*sample.open_fds) / static_cast<double>(*sample.max_fds));
    } else {
      reading.worst_fd_ratio.reset();
    }
    const double start =
        reader.boot_time() + static_cast<double>(sample.stat.starttime) / reader.ticks_per_second();
    if (!reading.oldest_start_seconds || start < *reading.oldest_start_seconds) {
      reading.oldest_start_seconds = start;
    }
    reading.states[StateIndex(sample.stat.state)] += 1;
  }
  if (samples.empty()) reading.worst_fd_ratio.reset();
  return reading;
}

// Adds what an exited process had used; I/O it could not read counts as nothing.
void AddExited(ProcessCounts& exited, const ProcessCounts& counts) {
  ProcessCounts known = counts;
  if (!known.read_bytes) known.read_bytes = 0;
  if (!known.write_bytes) known.write_bytes = 0;
  exited.Add(known);
}

// Builds the families of one group: every series carries groupname, some one more label.
class GroupFamilies {
 public:
  GroupFamilies(std::string group, std::vector<prometheus::MetricFamily>& out)
      : group_(std::move(group)), out_(out) {}

  void Add(std::string name, std::string help, MetricType type, double value) {
    out_.push_back(MetricFamilyBuilder(std::move(name), std::move(help), type)
                       .Add(value, {{"groupname", group_}})
                       .Build());
  }
  // One family with a series per (label value, value).
  void AddLabelled(std::string name, std::string help, MetricType type, const std::string& label,
                   const std::vector<std::pair<std::string, double>>& values) {
    MetricFamilyBuilder builder(std::move(name), std::move(help), type);
    // Labels in name order, as prometheus-process-exporter writes them.
    for (const auto& [label_value, value] : values) {
      prometheus::ClientMetric& metric = builder.NewMetric();
      metric.label = {{"groupname", group_}, {label, label_value}};
      if (label < "groupname") std::swap(metric.label[0], metric.label[1]);
      (type == MetricType::Counter ? metric.counter.value : metric.gauge.value) = value;
    }
    out_.push_back(builder.Build());
  }

 private:
  const std::string group_;
  std::vector<prometheus::MetricFamily>& out_;
};

}  // namespace

ProcessCollector::ProcessCollector(ProcessOptions options)
    : options_(std::move(options)), reader_(options_.proc_root) {
  if (options_.match.cmdline) {
    cmdline_ = std::make_unique<re2::RE2>(*options_.match.cmdline, re2::RE2::Quiet);
  }
  exited_.read_bytes = 0;
  exited_.write_bytes = 0;
}

ProcessCollector::~ProcessCollector() = default;

bool ProcessCollector::Matches(const ProcessIdentity& id, const std::string& comm) {
  const ProcessMatch& match = options_.match;
  if (match.comm && comm != *match.comm) return false;
  if (cmdline_) {
    const std::optional<std::string> cmdline = reader_.ReadCmdline(id.pid);
    if (!cmdline || !re2::RE2::PartialMatch(*cmdline, *cmdline_)) return false;
  }
  if (match.exe) {
    const std::optional<std::string> exe =
        reader_.ReadExe(id.pid, [this](const std::string& file) { ++permission_errors_[file]; });
    if (!exe) return false;
    const std::string_view name = std::string_view(*exe).substr(exe->rfind('/') + 1);
    if (*exe != *match.exe && name != *match.exe) return false;
  }
  return true;
}

CollectResult ProcessCollector::Collect(const CollectContext& /*context*/) {
  const auto on_denied = [this](const std::string& file) { ++permission_errors_[file]; };
  // Members: processes that match, that were members at the last scrape (a worker outlives its
  // master), and, with `children`, the descendants of members.
  std::map<std::int64_t, procfs::ProcStat> stats;
  for (const std::int64_t pid : reader_.ListPids()) {
    if (std::optional<procfs::ProcStat> stat = reader_.ReadStat(pid)) stats.emplace(pid, *stat);
  }
  std::set<std::int64_t> members;
  for (const auto& [pid, stat] : stats) {
    const ProcessIdentity id{pid, stat.starttime};
    if (live_.contains(id) || Matches(id, stat.comm)) members.insert(pid);
  }
  if (options_.children) {
    for (const auto& [pid, stat] : stats) {
      // Walks up the parents, bounded against a cycle read across pid reuse.
      std::int64_t ancestor = stat.ppid;
      for (int depth = 0; depth < 64 && ancestor > 0 && !members.contains(pid); ++depth) {
        if (members.contains(ancestor)) members.insert(pid);
        const auto parent = stats.find(ancestor);
        if (parent == stats.end()) break;
        ancestor = parent->second.ppid;
      }
    }
  }
  std::vector<ProcessSample> samples;
  for (const std::int64_t pid : members) {
    // A process that exits between listing and reading is simply not part of this scrape.
    if (std::optional<ProcessSample> sample = reader_.ReadSample(pid, stats.at(pid), on_denied)) {
      samples.push_back(std::move(*sample));
    }
  }

  // Counters: what exited processes used plus what the live ones have used so far.
  std::map<ProcessIdentity, ProcessCounts> live;
  for (const ProcessSample& sample : samples) live.emplace(sample.id, sample.counts);
  for (const auto& [id, counts] : live_) {
    if (!live.contains(id)) AddExited(exited_, counts);
  }
  live_ = std::move(live);
  ProcessCounts totals = exited_;
  for (const auto& [id, counts] : live_) totals.Add(counts);

  // Restarts: the oldest process is gone and another one leads the group. Zombies (exited,
  // not yet reaped) count in num_procs and states, as in process-exporter, but are not up.
  const ProcessSample* oldest = nullptr;
  for (const ProcessSample& sample : samples) {
    if (sample.stat.state == 'Z') continue;
    if (oldest == nullptr || std::tie(sample.id.start_ticks, sample.id.pid) <
                                 std::tie(oldest->id.start_ticks, oldest->id.pid)) {
      oldest = &sample;
    }
  }
  if (oldest != nullptr) {
    const bool previous_gone =
        oldest_ && (!live_.contains(*oldest_) || stats.at(oldest_->pid).state == 'Z');
    if (oldest_ && *oldest_ != oldest->id && previous_gone) ++restarts_;
    oldest_ = oldest->id;
  }

  const GroupReading reading = Summarise(samples, reader_);
  CollectResult result;
  GroupFamilies families(options_.group_name, result.families);
  const double ticks = reader_.ticks_per_second();
  families.Add(
      "sidecar_process_up",
      "Whether a live (not zombie) process of the group was found in /proc (1) or none (0).",
      MetricType::Gauge, oldest == nullptr ? 0 : 1);
  families.Add("sidecar_process_restarts_total",
               "Times the group's oldest process was replaced by another one (the main process "
               "restarted in place), seen in /proc.",
               MetricType::Counter, static_cast<double>(restarts_));
  {
    std::vector<std::pair<std::string, double>> errors;
    for (const char* file : {"exe", "fd", "io", "smaps_rollup"}) {
      const auto it = permission_errors_.find(file);
      errors.emplace_back(file,
                          it == permission_errors_.end() ? 0 : static_cast<double>(it->second));
    }
    families.AddLabelled("sidecar_process_permission_errors_total",
                         "Reads of /proc/<pid>/<file> refused for lack of privilege (same user or "
                         "CAP_SYS_PTRACE needed), by file.",
                         MetricType::Counter, "file", errors);
  }
  families.Add("namedprocess_namegroup_num_procs", "number of processes in this group",
               MetricType::Gauge, static_cast<double>(reading.processes));
  families.AddLabelled("namedprocess_namegroup_cpu_seconds_total",
                       "Cpu user usage in seconds, from utime and stime of /proc/<pid>/stat",
                       MetricType::Counter, "mode",
                       {{"user", static_cast<double>(totals.user_ticks) / ticks},
                        {"system", static_cast<double>(totals.system_ticks) / ticks}});
  if (totals.read_bytes) {
    families.Add("namedprocess_namegroup_read_bytes_total",
                 "number of bytes read by this group, from /proc/<pid>/io read_bytes",
                 MetricType::Counter, static_cast<double>(*totals.read_bytes));
  }
  if (totals.write_bytes) {
    families.Add("namedprocess_namegroup_write_bytes_total",
                 "number of bytes written by this group, from /proc/<pid>/io write_bytes",
                 MetricType::Counter, static_cast<double>(*totals.write_bytes));
  }
  families.Add("namedprocess_namegroup_major_page_faults_total",
               "Major page faults, from /proc/<pid>/stat", MetricType::Counter,
               static_cast<double>(totals.major_faults));
  families.Add("namedprocess_namegroup_minor_page_faults_total",
               "Minor page faults, from /proc/<pid>/stat", MetricType::Counter,
               static_cast<double>(totals.minor_faults));
  families.AddLabelled(
      "namedprocess_namegroup_context_switches_total",
      "Context switches, from /proc/<pid>/status (of every thread when there are several)",
      MetricType::Counter, "ctxswitchtype",
      {{"voluntary", static_cast<double>(totals.voluntary_switches)},
       {"nonvoluntary", static_cast<double>(totals.nonvoluntary_switches)}});
  {
    std::vector<std::pair<std::string, double>> memory = {{"resident", reading.resident_bytes},
                                                          {"virtual", reading.virtual_bytes}};
    if (reading.swap_bytes) memory.emplace_back("swapped", *reading.swap_bytes);
    if (reading.proportional_bytes) {
      memory.emplace_back("proportionalResident", *reading.proportional_bytes);
    }
    if (reading.proportional_swap_bytes) {
      memory.emplace_back("proportionalSwapped", *reading.proportional_swap_bytes);
    }
    families.AddLabelled("namedprocess_namegroup_memory_bytes",
                         "number of bytes of memory in use, from /proc/<pid>/stat, status and "
                         "smaps_rollup",
                         MetricType::Gauge, "memtype", memory);
  }
  if (reading.open_fds) {
    families.Add("namedprocess_namegroup_open_filedesc",
                 "number of open file descriptors for this group, from /proc/<pid>/fd",
                 MetricType::Gauge, *reading.open_fds);
  }
  if (reading.worst_fd_ratio) {
    families.Add("namedprocess_namegroup_worst_fd_ratio",
                 "the worst (closest to 1) ratio between open fds and max fds among all procs in "
                 "this group, from /proc/<pid>/fd and limits",
                 MetricType::Gauge, *reading.worst_fd_ratio);
  }
  families.Add("namedprocess_namegroup_num_threads", "Number of threads, from /proc/<pid>/stat",
               MetricType::Gauge, static_cast<double>(reading.threads));
  if (reading.oldest_start_seconds) {
    families.Add("namedprocess_namegroup_oldest_start_time_seconds",
                 "start time in seconds since 1970/01/01 of oldest process in group",
                 MetricType::Gauge, *reading.oldest_start_seconds);
  }
  families.AddLabelled("namedprocess_namegroup_states",
                       "Number of processes in states Running, Sleeping, Waiting, Zombie, or Other",
                       MetricType::Gauge, "state",
                       {{"Running", reading.states[0]},
                        {"Sleeping", reading.states[1]},
                        {"Waiting", reading.states[2]},
                        {"Zombie", reading.states[3]},
                        {"Other", reading.states[4]}});

  std::string summary = "processes in " + options_.proc_root.string() + " matching";
  if (options_.match.comm) summary += " comm=" + *options_.match.comm;
  if (options_.match.cmdline) summary += " cmdline~" + *options_.match.cmdline;
  if (options_.match.exe) summary += " exe=" + *options_.match.exe;
  // Zombies are listed apart: a killed main process leaves its workers as zombies until they are
  // reaped (a pod's pause process may never do it), and they are not running.
  const auto zombies = static_cast<std::size_t>(std::count_if(
      samples.begin(), samples.end(), [](const ProcessSample& s) { return s.stat.state == 'Z'; }));
  summary += ": " + std::to_string(samples.size() - zombies) + " running";
  if (zombies > 0) summary += ", " + std::to_string(zombies) + " zombies";
  if (oldest_) summary += ", oldest pid " + std::to_string(oldest_->pid);
  summary += ", " + std::to_string(restarts_) + " restarts";
  {
    const std::lock_guard lock(summary_mutex_);
    summary_ = std::move(summary);
  }
  return result;
}

std::string ProcessCollector::Summary() const {
  const std::lock_guard lock(summary_mutex_);
  return summary_;
}

CollectorFactory DecodeProcess(FieldDecoder& fields, const CollectorDefaults& defaults) {
  ProcessOptions options;
  options.group_name = defaults.name;
  if (!fields.Has("match")) {
    fields.Error("match", "missing required field \"match\" (comm, cmdline or exe)");
  }
  FieldDecoder match = fields.Child("match");
  options.match.comm = match.OptionalString("comm");
  options.match.cmdline = match.OptionalString("cmdline");
  options.match.exe = match.OptionalString("exe");
  if (fields.Has("match") && !options.match.comm && !options.match.cmdline && !options.match.exe) {
    fields.Error("match", "give at least one of comm, cmdline, exe");
  }
  if (options.match.comm && (options.match.comm->empty() || options.match.comm->size() > 15)) {
    match.Error("comm", "a command name has 1 to 15 characters (what /proc/<pid>/comm holds)");
  }
  if (options.match.cmdline) {
    const re2::RE2 regex(*options.match.cmdline, re2::RE2::Quiet);
    if (!regex.ok()) match.Error("cmdline", "invalid RE2 regex: " + regex.error());
  }
  match.RejectUnknownKeys();
  options.children = fields.Bool("children", true);
  options.proc_root = fields.String("proc_root", "/proc");
  if (options.proc_root.empty() || !options.proc_root.is_absolute()) {
    fields.Error("proc_root", "expected an absolute path such as /proc");
  }
  return [options] { return std::make_unique<ProcessCollector>(options); };
}

}  // namespace sidecar
