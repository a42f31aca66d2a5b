#include "exporter/tls_requirement.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace sidecar {
namespace {

std::string Where(const std::string& file_name, const YAML::Mark& mark, const std::string& field) {
  return file_name + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) +
         ": " + (field.empty() ? "(top level)" : field);
}

bool IsHttpsUrl(const std::string& value) {
  constexpr std::string_view kScheme = "https://";
  if (value.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return false;
  }
  return true;
}

std::optional<std::string> Find(const YAML::Node& node, const std::string& field,
                                const std::string& file_name) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      if (IsHttpsUrl(node.Scalar())) {
        return Where(file_name, node.Mark(), field) + " is an https:// URL";
      }
      return std::nullopt;
    case YAML::NodeType::Sequence: {
      std::size_t index = 0;
      for (const auto& item : node) {
        if (auto found = Find(item, field + "[" + std::to_string(index++) + "]", file_name)) {
          return found;
        }
      }
      return std::nullopt;
    }
    case YAML::NodeType::Map:
      for (const auto& entry : node) {
        const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
        const std::string child = field.empty() ? key : field + "." + key;
        if (key == "tls" && !entry.second.IsNull()) {
          return Where(file_name, entry.first.Mark(), child) + " sets TLS options";
        }
        if (auto found = Find(entry.second, child, file_name)) return found;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::optional<std::string> ReadFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

std::optional<std::string> ConfigNeedsTls(std::string_view yaml, const std::string& file_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
    return Find(root, "", file_name);
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> ConfigFileNeedsTls(const std::filesystem::path& file) {
  const auto content = ReadFile(file);
  if (!content) return std::nullopt;
  return ConfigNeedsTls(*content, file.string());
}

std::optional<std::string> WebConfigFileNeedsTls(const std::filesystem::path& file) {
  const auto content = ReadFile(file);
  if (!content) return std::nullopt;
  try {
    const YAML::Node root = YAML::Load(*content);
    if (!root.IsMap()) return std::nullopt;
    for (const auto& entry : root) {
      if (entry.first.IsScalar() && entry.first.Scalar() == "tls_server_config" &&
          !entry.second.IsNull()) {
        return Where(file.string(), entry.first.Mark(), "tls_server_config") +
               " serves /metrics over TLS";
      }
    }
  } catch (const YAML::Exception&) {
  }
  return std::nullopt;
}

}  // namespace sidecar
