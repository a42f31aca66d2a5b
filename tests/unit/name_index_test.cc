#include "collectors/core/name_index.h"

#include <catch2/catch.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace sidecar {
namespace {

TEST_CASE("a name index finds what was added through every growth, and nothing else",
          "[name_index]") {
  // The names outlive the index, as the index requires; std::unordered_map is the reference.
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) names.push_back("family_" + std::to_string(i * 7919 % 10007));
  NameIndex<int> index;
  std::unordered_map<std::string, int> reference;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto [value, inserted] = index.FindOrAdd(names[i]);
    CHECK(inserted == (reference.count(names[i]) == 0));
    if (inserted) {
      CHECK(*value == 0);  // added as Value{}
      *value = static_cast<int>(i);
      reference[names[i]] = static_cast<int>(i);
    }
  }
  CHECK(index.size() == reference.size());
  for (const auto& [name, value] : reference) {
    const int* found = index.Find(name);
    REQUIRE(found != nullptr);
    CHECK(*found == value);
  }
  CHECK(index.Find("family_") == nullptr);
  CHECK(index.Find("") == nullptr);
  CHECK(NameIndex<int>().Find("x") == nullptr);
  // Reserve keeps what is there.
  index.Reserve(100000);
  CHECK(index.size() == reference.size());
  CHECK(*index.Find(names.front()) == reference[names.front()]);
}

}  // namespace
}  // namespace sidecar
