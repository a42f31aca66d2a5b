#pragma once

#include <chrono>

#include "collectors/core/config_decoder.h"
#include "collectors/logs/log_tailer.h"

namespace sidecar {

// The options of every collector that tails logs (access_log, log_metrics): which files, from
// where, the position file, the line bound, the rotation grace, the poll interval and reclaim.
struct TailOptions {
  LogTailerOptions tailer;
  // The tail loop polls at least this often; with inotify it also wakes as soon as a watched
  // directory changes.
  std::chrono::milliseconds poll_interval{1000};
};

// Decodes the shared tailing fields of a log collector's mapping (`paths`, `from_beginning`,
// `position_file`, `max_line_bytes`, `rotated_file_grace`, `poll_interval`, `reclaim`), recording
// errors at their field. The collector decodes its own fields from the same decoder.
TailOptions DecodeTailOptions(FieldDecoder& fields);

}  // namespace sidecar
