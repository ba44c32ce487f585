#include "milter/milter_app.hpp"

int main(int argc, char** argv) {
  return sg::run_milter(argc, argv);
}
