// Stands in for libFuzzer's main() in ordinary builds: runs the fuzz target
// once over every corpus file, so seeds (and saved crash inputs) are replayed
// by ctest with any compiler. Arguments are files or directories; a directory
// is walked recursively.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

void run_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  // An exactly sized heap buffer, as libFuzzer gives, so a sanitizer build
  // catches a read one past the end.
  std::vector<std::uint8_t> data{std::istreambuf_iterator<char>(file), {}};
  LLVMFuzzerTestOneInput(data.data(), data.size());
}

// Sorted so a failure reproduces in the same order on every machine.
std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR_OR_FILE...\n";
    return 2;
  }
  std::size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg = argv[i];
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      for (const fs::path& file : files_under(arg)) {
        run_file(file);
        ++inputs;
      }
    } else if (fs::is_regular_file(arg, ec)) {
      run_file(arg);
      ++inputs;
    } else {
      // A typo in a corpus path must fail the test, not pass it vacuously.
      std::cerr << argv[0] << ": no such file or directory: " << arg << "\n";
      return 1;
    }
  }
  std::cout << argv[0] << ": ran " << inputs << " inputs\n";
  // An empty corpus would also make the replay test pass without testing.
  return inputs == 0 ? 1 : 0;
}
