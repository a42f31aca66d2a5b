#include "collectors/logs/tail_options.h"

#include <string>

namespace sidecar {

TailOptions DecodeTailOptions(FieldDecoder& fields) {
  TailOptions options;
  LogTailerOptions& tailer = options.tailer;
  if (!fields.Has("paths")) fields.Error("paths", "missing required field \"paths\"");
  tailer.paths = fields.StringList("paths");
  for (const std::string& path : tailer.paths) {
    if (path.empty() || path.front() != '/') {
      fields.Error("paths", "\"" + path +
                                "\" is not an absolute path; give the file (or glob pattern) on "
                                "the shared volume, such as /var/log/nginx/access.log");
    }
  }
  if (fields.Has("paths") && tailer.paths.empty()) {
    fields.Error("paths", "expected at least one path");
  }
  tailer.from_beginning = fields.Bool("from_beginning", false);
  tailer.position_file = fields.String("position_file", "");
  tailer.max_line_bytes = fields.Unsigned("max_line_bytes", tailer.max_line_bytes, 256, 16 << 20);
  tailer.rotated_file_grace = fields.Duration("rotated_file_grace", tailer.rotated_file_grace);
  options.poll_interval = fields.Duration("poll_interval", options.poll_interval);
  if (options.poll_interval.count() <= 0) fields.Error("poll_interval", "must be greater than 0");
  if (fields.Enum("reclaim", "none", {"none", "punch_hole"}) == "punch_hole") {
    tailer.reclaim = LogReclaim::kPunchHole;
  }
  return options;
}

}  // namespace sidecar
