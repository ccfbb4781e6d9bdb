// ring_probe: the ring library alone, without ingest's own checks in front of it, for the
// resource-limit tests (test_resource_limits.py).
//
//   ring_probe create NAME WIDTH HEIGHT SLOTS   Writer::create a bgr24 ring, fill every slot
//                                               once (touching every page), close; prints the
//                                               RingError and exits with its code on failure
//   ring_probe attach NAME                      Reader::attach; prints the geometry or the error
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/writer.hpp"

using namespace framering::ring;

namespace {

int create(const std::string& name, std::uint32_t width, std::uint32_t height,
           std::uint32_t slots) {
  Writer w = Writer::create(
      {.name = name, .geometry = Geometry::image(width, height, PixFmt::kBgr24), .slots = slots});
  for (std::uint32_t i = 0; i < slots; ++i) {
    auto slot = w.claim();
    std::memset(slot.payload().data(), static_cast<int>(i), slot.payload().size());
    w.publish(std::move(slot));
  }
  std::printf("created %s: %llu bytes, %u frames written\n", w.path().c_str(),
              static_cast<unsigned long long>(w.info().segment_bytes), slots);
  return 0;
}

int attach(const std::string& name) {
  Reader r = Reader::attach(name);
  std::printf("attached %s: %s\n", name.c_str(), r.info().geometry.describe().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 6 && std::strcmp(argv[1], "create") == 0) {
      auto num = [](const char* s) {
        return static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
      };
      return create(argv[2], num(argv[3]), num(argv[4]), num(argv[5]));
    }
    if (argc == 3 && std::strcmp(argv[1], "attach") == 0) return attach(argv[2]);
  } catch (const RingError& e) {
    std::fprintf(stderr, "ring_probe: %s\n", e.what());
    return e.exit_code();
  }
  std::fprintf(stderr, "usage: ring_probe create NAME WIDTH HEIGHT SLOTS | attach NAME\n");
  return 2;
}
