// Runs a fuzz target without libFuzzer, as a plain test: a fixed seed corpus
// plus deterministic random and mutated inputs. Built into every fuzz target
// so `bazel test` (and its ASan+UBSan configuration) exercises them on each
// run; tests/fuzz/README.md shows how to build the same targets for
// coverage-guided fuzzing with clang's libFuzzer.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tests/testing/fake_random.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 3000;
  snaptun::testing::FakeRandom rng(2026);
  std::vector<uint8_t> input;
  // Sizes around every message boundary, with the type byte set.
  const size_t sizes[] = {0,  1,  4,   16,  31,  32,  33,  64,   91,
                          92, 93, 111, 112, 113, 148, 149, 1400, 4096};
  for (uint8_t type = 0; type < 6; ++type) {
    for (size_t size : sizes) {
      input.assign(size, 0);
      rng.Fill(absl::MakeSpan(input));
      if (size > 0) input[0] = type;
      for (size_t i = 1; i < 4 && i < size; ++i) input[i] = 0;
      LLVMFuzzerTestOneInput(input.data(), input.size());
    }
  }
  for (int i = 0; i < iterations; ++i) {
    input.resize(rng.NextU32() % 2048);
    rng.Fill(absl::MakeSpan(input));
    if (!input.empty() && rng.NextU32() % 2 == 0) input[0] = rng.NextU32() % 5;
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("ran %d inputs\n", iterations + 6 * 18);
  return 0;
}
