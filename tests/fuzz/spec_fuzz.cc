// Fuzz target: the store's spec column (meanwhile::spec_from_json, src/lane/spec_json.cc), text
// a repository can ship in .meanwhile/jobs.db. Besides not crashing: what it accepts is within
// the bounds submit() enforces, and writing it back and reading it again gives the same spec.
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "lane/store.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(meanwhile::fuzz::as_text(data, size));
  auto spec = meanwhile::spec_from_json(text);
  if (!spec) return 0;
  FUZZ_CHECK(spec->shards >= 0 && spec->shards <= meanwhile::kMaxShards,
             "shards out of range: " + std::to_string(spec->shards));
  FUZZ_CHECK(spec->cpus >= 0 && spec->cpus <= 4096, "cpus out of range");
  auto again = meanwhile::spec_from_json(meanwhile::spec_to_json(*spec));
  FUZZ_CHECK(again.ok(), "its own JSON is refused: " + again.error());
  FUZZ_CHECK(again->after == spec->after && again->env.size() == spec->env.size() &&
                 again->priority == spec->priority && again->timeout == spec->timeout &&
                 again->executor == spec->executor && again->shards == spec->shards,
             "the round trip changed the spec");
  return 0;
}
