// /preview over real HTTP against a real ring: the JPEG decodes (cv::imdecode) to the ring
// geometry with the pixels that were written, /preview.json carries the newest worker boxes, the
// pictures are served only on the preview's own address and only to requests whose Host header
// names this machine (DNS rebinding).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>
#include <vector>

#include "framering/metrics/catalogue.hpp"
#include "framering/metrics/preview.hpp"
#include "framering/ringbuf/geometry.hpp"
#include "framering/ringbuf/writer.hpp"
#include "http_get.hpp"

namespace fm = framering::metrics;
namespace ring = framering::ring;
using framering::test::http_get;
using framering::test::http_get_host;

namespace {

std::string unique_ring(const char* stem) {
  std::random_device rd;
  return std::string(stem) + std::to_string(getpid()) + "_" + std::to_string(rd() % 100000);
}

// Left half one colour, right half another, in the ring's own channel order.
void publish_halves(ring::Writer& w, const std::uint8_t left[3], const std::uint8_t right[3]) {
  const ring::Geometry& g = w.info().geometry;
  auto slot = w.claim();
  auto* p = reinterpret_cast<std::uint8_t*>(slot.payload().data());
  const std::uint32_t ch = g.channels();
  for (std::uint32_t y = 0; y < g.height(); ++y) {
    for (std::uint32_t x = 0; x < g.width(); ++x) {
      const std::uint8_t* c = x < g.width() / 2 ? left : right;
      for (std::uint32_t k = 0; k < ch; ++k) p[(y * g.width() + x) * ch + k] = c[k];
    }
  }
  w.publish(std::move(slot));
}

cv::Mat get_jpeg(const fm::PreviewServer& endpoint, int flags) {
  const auto r = http_get(endpoint.port(), "/preview.jpg");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.headers.find("image/jpeg"), std::string::npos) << r.headers;
  const std::vector<uchar> bytes(r.body.begin(), r.body.end());
  return cv::imdecode(bytes, flags);
}

bool near(const cv::Vec3b& got, int b, int g, int r) {
  return std::abs(got[0] - b) < 40 && std::abs(got[1] - g) < 40 && std::abs(got[2] - r) < 40;
}

}  // namespace

TEST(Preview, JpegHasRingGeometryAndPixels) {
  const std::string name = unique_ring("pvbgr");
  fm::PreviewServer endpoint("127.0.0.1:0", name);
  const auto before = http_get(endpoint.port(), "/preview.jpg");
  EXPECT_EQ(before.status, 503);
  EXPECT_NE(before.body.find(name), std::string::npos) << "must name the ring: " << before.body;

  auto w = ring::Writer::create(
      {.name = name, .geometry = ring::Geometry::image(320, 240, ring::PixFmt::kBgr24)});
  EXPECT_EQ(http_get(endpoint.port(), "/preview.jpg").status, 503) << "no frame published yet";
  const std::uint8_t blue[3] = {255, 0, 0}, red[3] = {0, 0, 255}, green[3] = {0, 255, 0};
  publish_halves(w, blue, red);
  publish_halves(w, green, blue);  // the newest frame is the one shown
  const cv::Mat img = get_jpeg(endpoint, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, 320);
  EXPECT_EQ(img.rows, 240);
  EXPECT_TRUE(near(img.at<cv::Vec3b>(120, 60), 0, 255, 0)) << img.at<cv::Vec3b>(120, 60);
  EXPECT_TRUE(near(img.at<cv::Vec3b>(120, 260), 255, 0, 0)) << img.at<cv::Vec3b>(120, 260);

  const auto page = http_get(endpoint.port(), "/preview");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("/preview.jpg"), std::string::npos);
  const auto info = nlohmann::json::parse(http_get(endpoint.port(), "/preview.json").body);
  EXPECT_EQ(info["ring"], name);
  EXPECT_EQ(info["frame_no"], 1);
  EXPECT_EQ(info["width"], 320);
  EXPECT_EQ(info["height"], 240);
  EXPECT_TRUE(info["boxes"].empty());
  w.close();
}

TEST(Preview, Rgb24AndGray8AreShownInTheirTrueColours) {
  const std::string name = unique_ring("pvrgb");
  fm::PreviewServer endpoint("127.0.0.1:0", name);
  {
    auto w = ring::Writer::create(
        {.name = name, .geometry = ring::Geometry::image(64, 48, ring::PixFmt::kRgb24)});
    const std::uint8_t red_rgb[3] = {255, 0, 0}, blue_rgb[3] = {0, 0, 255};
    publish_halves(w, red_rgb, blue_rgb);
    const cv::Mat img = get_jpeg(endpoint, cv::IMREAD_COLOR);
    ASSERT_FALSE(img.empty());
    EXPECT_TRUE(near(img.at<cv::Vec3b>(24, 8), 0, 0, 255))
        << "left must be red: " << img.at<cv::Vec3b>(24, 8);
    EXPECT_TRUE(near(img.at<cv::Vec3b>(24, 56), 255, 0, 0)) << img.at<cv::Vec3b>(24, 56);
    w.close();
  }
  const std::string gray_name = unique_ring("pvgray");
  fm::PreviewServer gray_endpoint("127.0.0.1:0", gray_name);
  auto g = ring::Writer::create(
      {.name = gray_name, .geometry = ring::Geometry::image(100, 50, ring::PixFmt::kGray8)});
  const std::uint8_t dark[3] = {20, 20, 20}, light[3] = {230, 230, 230};
  publish_halves(g, dark, light);
  const cv::Mat img = get_jpeg(gray_endpoint, cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.channels(), 1);
  EXPECT_EQ(img.cols, 100);
  EXPECT_EQ(img.rows, 50);
  EXPECT_LT(img.at<std::uint8_t>(25, 10), 60);
  EXPECT_GT(img.at<std::uint8_t>(25, 90), 190);
  g.close();
}

TEST(Preview, JsonCarriesNewestBoxesPerWorkerOfThisRing) {
  const std::string name = unique_ring("pvbox");
  char path[] = "/tmp/framering-events-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream ev(path);
    ev << R"({"ring":")" << name
       << R"(","worker":"people","kind":"people","frame_no":3,"boxes":[[1,2,3,4]]})"
       << "\n";
    ev << R"({"ring":"other","worker":"people","kind":"people","frame_no":4,"boxes":[[9,9,9,9]]})"
       << "\n";
    ev << "not json at all\n";
    ev << R"({"ring":")" << name
       << R"(","worker":"motion","kind":"motion_start","frame_no":5,"boxes":[[10,20,30,40],[50,60,7,8]]})"
       << "\n";
    ev << R"({"ring":")" << name
       << R"(","worker":"people","kind":"people","frame_no":6,"boxes":[[11,12,13,14]]})"
       << "\n";
    ev << R"({"ring":")" << name
       << R"(","worker":"checksum","kind":"checksum","frame_no":6,"crc32":"00000000"})"
       << "\n";
  }
  fm::PreviewServer endpoint("127.0.0.1:0", name, path);
  auto w = ring::Writer::create(
      {.name = name, .geometry = ring::Geometry::image(64, 48, ring::PixFmt::kBgr24)});
  const std::uint8_t c[3] = {1, 2, 3};
  publish_halves(w, c, c);
  const auto j = nlohmann::json::parse(http_get(endpoint.port(), "/preview.json").body);
  ASSERT_EQ(j["boxes"].size(), 3u) << j.dump();
  // Sorted by worker: motion (two boxes of its newest event), then people (its newest event only).
  EXPECT_EQ(j["boxes"][0]["worker"], "motion");
  EXPECT_EQ(j["boxes"][0]["box"], nlohmann::json({10, 20, 30, 40}));
  EXPECT_EQ(j["boxes"][1]["box"], nlohmann::json({50, 60, 7, 8}));
  EXPECT_EQ(j["boxes"][2]["worker"], "people");
  EXPECT_EQ(j["boxes"][2]["frame_no"], 6);
  EXPECT_EQ(j["boxes"][2]["box"], nlohmann::json({11, 12, 13, 14}));
  w.close();
  std::remove(path);
}

TEST(Preview, TheMetricsPortServesNoPictures) {
  const std::string name = unique_ring("pvnone");
  fm::Endpoint metrics("127.0.0.1:0");
  fm::PreviewServer preview("127.0.0.1:0", name);
  auto w = ring::Writer::create(
      {.name = name, .geometry = ring::Geometry::image(32, 24, ring::PixFmt::kBgr24)});
  const std::uint8_t c[3] = {9, 9, 9};
  publish_halves(w, c, c);
  EXPECT_NE(metrics.port(), preview.port());
  EXPECT_EQ(http_get(preview.port(), "/preview.jpg").status, 200);
  for (const char* path : {"/preview", "/preview.jpg", "/preview.json"}) {
    EXPECT_EQ(http_get(metrics.port(), path).status, 404) << path;
  }
  EXPECT_EQ(http_get(preview.port(), "/metrics").status, 404) << "and no metrics on the preview";
  w.close();
}

TEST(Preview, AnswersOnlyHostHeadersThatNameThisMachine) {
  const std::string name = unique_ring("pvhost");
  fm::PreviewServer preview("127.0.0.1:0", name, "", {"NVR.lan"});
  auto w = ring::Writer::create(
      {.name = name, .geometry = ring::Geometry::image(32, 24, ring::PixFmt::kBgr24)});
  const std::uint8_t c[3] = {9, 9, 9};
  publish_halves(w, c, c);
  const std::string port = ":" + std::to_string(preview.port());
  for (const std::string& host :
       std::vector<std::string>{"127.0.0.1" + port, "127.0.0.1", "localhost" + port, "LOCALHOST.",
                                "[::1]" + port, "10.1.2.3" + port, "nvr.lan" + port, "Nvr.Lan"}) {
    EXPECT_EQ(http_get_host(preview.port(), "/preview.jpg", host).status, 200) << host;
  }
  // What a page of evil.example sends after rebinding its name to 127.0.0.1, and look-alikes.
  for (const std::string& host : std::vector<std::string>{
           "evil.example" + port, "evil.example", "localhost.evil.example" + port,
           "127.0.0.1.nip.io" + port, "nvr.lan.evil.example", "[::1" + port, "127.0.0.1:80x",
           std::string()}) {
    for (const char* path : {"/preview", "/preview.jpg", "/preview.json", "/"}) {
      const auto r = http_get_host(preview.port(), path, host);
      EXPECT_EQ(r.status, 403) << "Host '" << host << "' " << path;
      EXPECT_EQ(r.body.find("\xff\xd8"), std::string::npos) << "no JPEG to " << host;
    }
  }
  w.close();
}
