// streamguard-policyd: see --help, or policyd/policyd_app.cpp.
#include "policyd/policyd_app.hpp"

int main(int argc, char** argv) {
  return sg::run_policyd(argc, argv);
}
