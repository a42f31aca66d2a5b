#include <catch2/catch.hpp>
#include <filesystem>

TEST_CASE("the exporter binary was built", "[e2e]") {
  CHECK(std::filesystem::exists(SIDECAR_EXPORTER_BIN));
}
