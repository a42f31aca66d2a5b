#include "exporter/config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "collectors/collector_types.h"
#include "re2/re2.h"

namespace sidecar {
namespace {

std::vector<std::string> TypeNames() {
  std::vector<std::string> names;
  for (const auto& type : CollectorTypes()) names.emplace_back(type.type);
  return names;
}

const CollectorType* FindType(std::string_view name) {
  for (const auto& type : CollectorTypes()) {
    if (type.type == name) return &type;
  }
  return nullptr;
}

}  // namespace

ConfigLoad ParseConfig(std::string_view yaml, const std::string& file_name) {
  ConfigLoad load;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    load.errors.push_back(
        {file_name, e.mark.line + 1, e.mark.column + 1, "", "invalid YAML: " + e.msg});
    return load;
  }
  if (root.IsNull() || !root.IsDefined()) {
    load.errors.push_back(
        {file_name, 0, 0, "", "the file is empty; it needs a \"collectors\" list"});
    return load;
  }
  if (!root.IsMap()) {
    load.errors.push_back({file_name, root.Mark().line + 1, root.Mark().column + 1, "",
                           "expected a mapping with \"global\" and \"collectors\""});
    return load;
  }

  Config config;
  FieldDecoder top(root, "", file_name, load.errors);
  FieldDecoder global = top.Child("global");
  config.timeout = global.Duration("timeout", config.timeout);
  if (config.timeout.count() <= 0) global.Error("timeout", "must be greater than 0");
  config.const_labels = global.StringMap("labels", /*label_names=*/true);
  global.RejectUnknownKeys();

  if (!top.Has("collectors")) top.Error("collectors", "missing required field \"collectors\"");
  static const RE2 kName(R"([A-Za-z0-9_][A-Za-z0-9_.\-]*)");
  std::map<std::string, std::string> seen_names;  // name -> field path of first use
  std::map<std::string, std::string> unlabelled;  // type + labels -> field path of first use
  for (FieldDecoder& fields : top.ChildList("collectors")) {
    const std::string type_name = fields.RequiredString("type");
    const std::string name = fields.RequiredString("name");
    if (!name.empty()) {
      if (!RE2::FullMatch(name, kName)) {
        fields.Error("name", "invalid name \"" + name +
                                 "\"; use letters, digits, '_', '.' and '-' (it becomes the "
                                 "value of the \"collector\" label)");
      } else if (auto [it, inserted] = seen_names.emplace(name, fields.path()); !inserted) {
        fields.Error(
            "name", "duplicate collector name \"" + name + "\" (first used at " + it->second + ")");
      }
    }
    const CollectorType* type = FindType(type_name);
    if (type == nullptr) {
      if (!type_name.empty()) {
        std::string allowed;
        for (const auto& known : TypeNames()) allowed += (allowed.empty() ? "" : ", ") + known;
        fields.Error("type", "unknown collector type \"" + type_name + "\"; allowed: " + allowed);
      }
      continue;
    }
    CollectorConfig collector;
    collector.type = type_name;
    collector.name = name;
    collector.fingerprint = fields.Fingerprint();
    collector.factory = type->decode(fields, CollectorDefaults{name, config.timeout});
    fields.RejectUnknownKeys();
    if (type->series_without_collector_label) {
      // Series such as nginx_up carry only the labels given in `labels`, for compatibility
      // with other exporters: two such collectors must differ there or their series collide.
      const std::string key = type_name + " " + fields.FieldFingerprint("labels");
      if (auto [it, inserted] = unlabelled.emplace(key, fields.path()); !inserted) {
        fields.Error("labels", "same series as " + it->second + "; give each " + type_name +
                                   " collector distinct \"labels\"");
      }
    }
    config.collectors.push_back(std::move(collector));
  }
  top.RejectUnknownKeys();
  if (load.errors.empty() && config.collectors.empty()) {
    top.Error("collectors", "no collectors configured; add at least one");
  }
  if (load.errors.empty()) load.config = std::move(config);
  return load;
}

ConfigLoad LoadConfigFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ConfigLoad load;
    load.errors.push_back(
        {path.string(), 0, 0, "", "cannot read the file: " + std::string(std::strerror(errno))});
    return load;
  }
  std::ostringstream content;
  content << in.rdbuf();
  return ParseConfig(content.str(), path.string());
}

}  // namespace sidecar
