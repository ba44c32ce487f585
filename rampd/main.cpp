#include "rampd/rampd_app.hpp"

int main(int argc, char** argv) {
  return sg::rampd::run_rampd(argc, argv);
}
