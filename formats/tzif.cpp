#include "formats/tzif.hpp"

#include <algorithm>

namespace sg::tzif {
namespace {

// A cursor over the file that fails (rather than reading past the end) once
// a read does not fit.
struct Reader {
  std::string_view in;
  bool bad = false;

  std::string_view take(uint64_t n) {
    if (bad || n > in.size()) {
      bad = true;
      return {};
    }
    auto out = in.substr(0, n);
    in.remove_prefix(n);
    return out;
  }
  int64_t be(unsigned bytes) {
    auto b = take(bytes);
    if (bad) return 0;
    uint64_t v = 0;
    for (unsigned char c : b) v = v << 8 | c;
    if (bytes == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
};

struct Counts {
  uint64_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;
};

// "TZif", version, 15 reserved bytes, six counts.
bool header(Reader& r, char& version, Counts& c, std::string& error) {
  if (r.take(4) != "TZif") {
    error = "not a TZif file (no \"TZif\" magic)";
    return false;
  }
  auto v = r.take(1);
  r.take(15);
  uint64_t* fields[] = {&c.isut, &c.isstd, &c.leap, &c.time, &c.type, &c.chars};
  for (auto* f : fields) *f = static_cast<uint32_t>(r.be(4));
  if (r.bad) {
    error = "TZif header cut short";
    return false;
  }
  version = v.empty() ? '\0' : v[0];
  if (c.type == 0 || c.type > 256 || (c.isut != 0 && c.isut != c.type) ||
      (c.isstd != 0 && c.isstd != c.type)) {
    error = "TZif header counts are inconsistent";
    return false;
  }
  return true;
}

uint64_t block_size(const Counts& c, unsigned time_bytes) {
  return c.time * time_bytes + c.time + c.type * 6 + c.chars + c.leap * (time_bytes + 4) + c.isstd +
         c.isut;
}

}  // namespace

std::optional<Zone> Zone::parse(std::string_view bytes, std::string& error) {
  Reader r{bytes};
  char version = 0;
  Counts c;
  if (!header(r, version, c, error)) return std::nullopt;
  unsigned time_bytes = 4;
  if (version >= '2') {
    // Skip the 32-bit block; the 64-bit one follows with its own header.
    r.take(block_size(c, 4));
    if (!header(r, version, c, error)) return std::nullopt;
    time_bytes = 8;
  }
  if (block_size(c, time_bytes) > r.in.size()) {
    error = "TZif data cut short";
    return std::nullopt;
  }
  Zone z;
  std::vector<int64_t> times(c.time);
  for (auto& t : times) t = r.be(time_bytes);
  std::vector<uint8_t> index(c.time);
  for (auto& i : index) i = static_cast<uint8_t>(r.be(1));
  std::vector<int32_t> utoff(c.type);
  for (auto& u : utoff) {
    u = static_cast<int32_t>(r.be(4));
    r.take(2);  // isdst, designation index
  }
  r.take(c.chars);
  r.take(c.leap * (time_bytes + 4));
  r.take(c.isstd + c.isut);
  if (r.bad) {
    error = "TZif data cut short";
    return std::nullopt;
  }
  for (std::size_t i = 0; i < times.size(); ++i) {
    if (index[i] >= c.type || (i > 0 && times[i] <= times[i - 1])) {
      error = "TZif transitions are out of order or name an unknown type";
      return std::nullopt;
    }
    z.offsets_.push_back(utoff[index[i]]);
  }
  z.times_ = std::move(times);
  z.initial_ = utoff[0];
  // Offsets beyond a day are not a real zone's (RFC 8536: -89999..93599).
  const auto in_range = [](int32_t o) { return o >= -89999 && o <= 93599; };
  if (!in_range(z.initial_) || !std::all_of(z.offsets_.begin(), z.offsets_.end(), in_range)) {
    error = "TZif offset out of range";
    return std::nullopt;
  }
  if (time_bytes == 8 && r.in.size() >= 2 && r.in.front() == '\n') {
    auto end = r.in.find('\n', 1);
    if (end != std::string_view::npos) z.footer_ = std::string(r.in.substr(1, end - 1));
  }
  // "CST6CDT,M3.2.0,M11.1.0": a rule with daylight saving has a second part.
  z.footer_has_dst_ = z.footer_.find(',') != std::string::npos;
  return z;
}

int32_t Zone::offset_at(int64_t utc_s) const {
  auto it = std::upper_bound(times_.begin(), times_.end(), utc_s);
  if (it == times_.begin()) return initial_;
  return offsets_[static_cast<std::size_t>(it - times_.begin()) - 1];
}

int64_t Zone::utc_from_wall(int64_t wall_s) const {
  // The offset at the wall time read as UTC is within a day of the right
  // instant; a second look settles it except inside a change's gap/overlap.
  const int64_t guess = wall_s - offset_at(wall_s);
  return wall_s - offset_at(guess);
}

}  // namespace sg::tzif
