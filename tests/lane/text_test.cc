#include "lane/text.h"

#include <gtest/gtest.h>

#include <string>

namespace meanwhile::text {
namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

// True when `s` is well-formed UTF-8 (checked independently of clean()).
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80                   ? 1
              : (c >= 0xC2 && c <= 0xDF) ? 2
              : (c >= 0xE0 && c <= 0xEF) ? 3
              : (c >= 0xF0 && c <= 0xF4) ? 4
                                         : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

TEST(TextClean, PlainTextUnchanged) {
  EXPECT_EQ(clean("hello world\n\tindented\n"), "hello world\n\tindented\n");
  EXPECT_EQ(clean(""), "");
  EXPECT_EQ(clean("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\n"),
            "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\n");
}

// is_clean(s) promises clean(s) == s: checked on plain text, on what clean() changes, and on
// random short strings drawn mostly from bytes that matter (ESC, '\r', C1, UTF-8 leads).
TEST(TextClean, IsCleanExactlyWhenCleanChangesNothing) {
  EXPECT_TRUE(is_clean("hello world\n\tindented\n"));
  EXPECT_TRUE(is_clean(""));
  EXPECT_TRUE(is_clean("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\n"));
  for (std::string changed : {"a\x1b[0mb", "50%\r100%", "a\xFF",
                              "x\xC2\x9B"
                              "1m",
                              "bell\x07", "end\xC3", "del\x7F"}) {
    EXPECT_FALSE(is_clean(changed)) << changed;
  }
  const char alphabet[] = {'a',    ' ',    '\n',   '\t',   '\r',   '\x1b', '[',    'm',    '\x07',
                           '\x7F', '\xC2', '\x9B', '\xC3', '\xA9', '\xE2', '\x82', '\xAC', '\xFF'};
  unsigned state = 4242;
  int clean_ones = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    state = state * 1103515245 + 12345;
    const int length = static_cast<int>((state >> 16) % 8);
    for (int k = 0; k < length; ++k) {
      state = state * 1103515245 + 12345;
      s.push_back(alphabet[(state >> 16) % sizeof alphabet]);
    }
    EXPECT_EQ(is_clean(s), clean(s) == s) << testing::PrintToString(s);
    clean_ones += is_clean(s) ? 1 : 0;
  }
  EXPECT_GT(clean_ones, 1000);  // both sides of the property were exercised
}

TEST(TextClean, InvalidUtf8BecomesReplacement) {
  EXPECT_EQ(clean("a\xFF"
                  "b"),
            "a" + kFFFD + "b");                                         // never valid
  EXPECT_EQ(clean("\xC0\xAF"), kFFFD + kFFFD);                          // overlong '/'
  EXPECT_EQ(clean("\xE0\x80\xAF"), kFFFD + kFFFD + kFFFD);              // overlong 3-byte
  EXPECT_EQ(clean("\xED\xA0\x80"), kFFFD + kFFFD + kFFFD);              // surrogate U+D800
  EXPECT_EQ(clean("\xF4\x90\x80\x80"), kFFFD + kFFFD + kFFFD + kFFFD);  // > U+10FFFF
  EXPECT_EQ(clean("\xF0\x80\x80\x80"), kFFFD + kFFFD + kFFFD + kFFFD);  // overlong 4-byte
  EXPECT_EQ(clean("\x80x"), kFFFD + "x");                               // lone continuation
  // A truncated sequence is one replacement (its maximal valid prefix), then what follows.
  EXPECT_EQ(clean("\xE2\x82x"), kFFFD + "x");
  EXPECT_EQ(clean("\xF0\x9F\x98"), kFFFD);
  EXPECT_EQ(clean("end\xC3"), "end" + kFFFD);
  // Largest valid code points survive.
  EXPECT_EQ(clean("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(clean("\xED\x9F\xBF"), "\xED\x9F\xBF");
}

TEST(TextClean, OutputIsAlwaysValidUtf8) {
  std::string noise;
  unsigned state = 12345;
  for (int i = 0; i < 200000; ++i) {
    state = state * 1103515245 + 12345;
    noise.push_back(static_cast<char>(state >> 16));
  }
  const std::string cleaned = clean(noise);
  EXPECT_TRUE(valid_utf8(cleaned));
  EXPECT_EQ(cleaned.find('\x1b'), std::string::npos);
  EXPECT_EQ(cleaned.find('\r'), std::string::npos);
  for (char c : cleaned) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 || c == '\n' || c == '\t') << int(u);
    if (u < 0x20 && c != '\n' && c != '\t') break;
  }
}

TEST(TextClean, StripsAnsiSequences) {
  EXPECT_EQ(clean("\x1b[31mred\x1b[0m plain\n"), "red plain\n");
  EXPECT_EQ(clean("\x1b[1;32;40mX\x1b[K\x1b[2J\x1b[?25l"), "X");
  EXPECT_EQ(clean("\x1b]0;window title\x07text"), "text");               // OSC ended by BEL
  EXPECT_EQ(clean("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"), "link");  // OSC ended by ST
  EXPECT_EQ(clean("\x1b(Bascii\x1b"
                  "7\x1b"
                  "8\x1b=\x1bM"),
            "ascii");  // two/three-byte forms
  EXPECT_EQ(clean("\xC2\x9B"
                  "1mC1\xC2\x85"),
            "C1");                    // 8-bit CSI, NEL removed
  EXPECT_EQ(clean("a\x1b"), "a");     // ESC at the end
  EXPECT_EQ(clean("a\x1b[12"), "a");  // unfinished CSI
  // An unterminated OSC stops at the end of its line instead of swallowing the log.
  EXPECT_EQ(clean("\x1b]2;oops\nnext line\n"), "\nnext line\n");
  // A control byte aborts a CSI and is then handled normally.
  EXPECT_EQ(clean("\x1b[1\nz"), "\nz");
}

TEST(TextClean, RemovesOtherControls) {
  EXPECT_EQ(clean(std::string("a\0b\x07"
                              "c\x08"
                              "d\x7f"
                              "e\n",
                              10)),
            "abcde\n");
  EXPECT_EQ(clean("tab\tok\n"), "tab\tok\n");
}

TEST(TextClean, CarriageReturnKeepsFinalState) {
  EXPECT_EQ(clean("10%\r20%\r100%\n"), "100%\n");
  EXPECT_EQ(clean("abcdef\rXY\n"), "XYcdef\n");  // terminal semantics: overwrite from column 0
  EXPECT_EQ(clean("line\r\nnext\r\n"), "line\nnext\n");
  EXPECT_EQ(clean("progress 1\rprogress 2\r"), "progress 2");  // trailing \r: still shown
  EXPECT_EQ(clean("a\rb\rc"), "c");
  EXPECT_EQ(clean("first\nabc\rX\nlast\n"), "first\nXbc\nlast\n");
  // Columns are characters: a 3-byte character is overwritten by one ASCII character.
  EXPECT_EQ(clean("\xE2\x82\xAC\xE2\x82\xAC!\rab\n"), "ab!\n");
  EXPECT_EQ(clean("ab!\r\xE2\x82\xAC\n"),
            "\xE2\x82\xAC"
            "b!\n");
  // Colour codes inside a progress bar vanish too.
  EXPECT_EQ(clean("\x1b[32m[=   ]\x1b[0m\r\x1b[32m[====]\x1b[0m done\n"), "[====] done\n");
  // Many updates of one line stay cheap and correct.
  std::string bar;
  for (int i = 0; i <= 10000; ++i) bar += "\r" + std::to_string(i) + "/10000";
  EXPECT_EQ(clean(bar + "\n"), "10000/10000\n");
}

TEST(TextClean, NewlinesArePreserved) {
  // read_log relies on clean() keeping every '\n' of the raw text.
  const std::string raw = "a\x1b]x\nb\x1b[\nc\xE2\n\r\n\x1b\n\xC2\x9D\n";
  std::size_t raw_newlines = std::count(raw.begin(), raw.end(), '\n');
  const std::string cleaned = clean(raw);
  EXPECT_EQ(static_cast<std::size_t>(std::count(cleaned.begin(), cleaned.end(), '\n')),
            raw_newlines);
}

TEST(TextIncompleteSuffix, CountsOnlyCompletablePrefixes) {
  EXPECT_EQ(incomplete_utf8_suffix(""), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("ab\xC3"), 1u);
  EXPECT_EQ(incomplete_utf8_suffix("ab\xC3\xA9"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\xE2\x82"), 2u);
  EXPECT_EQ(incomplete_utf8_suffix("\xE2"), 1u);
  EXPECT_EQ(incomplete_utf8_suffix("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(incomplete_utf8_suffix("\xF0\x9F\x98\x80"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\xE0\x80"), 0u);  // overlong: invalid already
  EXPECT_EQ(incomplete_utf8_suffix("\xED\xA0"), 0u);  // surrogate: invalid already
  EXPECT_EQ(incomplete_utf8_suffix("\xFF"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\x80\x80\x80"), 0u);
}

TEST(TextCut, ShortTextUnchanged) {
  Cut cut = cut_middle("one\ntwo\n", 100, "/x.log");
  EXPECT_EQ(cut.text, "one\ntwo\n");
  EXPECT_EQ(cut.lines_omitted, 0u);
  EXPECT_EQ(cut.bytes_omitted, 0u);
}

TEST(TextCut, CutsWholeLinesInTheMiddle) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "line " + std::to_string(i) + "\n";
  Cut cut = cut_middle(text, 400, "/data/logs/7.log");
  EXPECT_LE(cut.text.size(), 400u);
  EXPECT_EQ(cut.text.rfind("line 0\n", 0), 0u);               // starts with the head
  EXPECT_NE(cut.text.find("line 999\n"), std::string::npos);  // ends with the tail
  EXPECT_EQ(cut.text.substr(cut.text.size() - 9), "line 999\n");
  const std::string marker = "[... " + std::to_string(cut.lines_omitted) + " lines (" +
                             std::to_string(cut.bytes_omitted) +
                             " bytes) omitted; full log: /data/logs/7.log ...]\n";
  EXPECT_NE(cut.text.find(marker), std::string::npos) << cut.text;
  // Everything is accounted for: kept lines + omitted lines = all lines.
  const auto kept_lines = std::count(cut.text.begin(), cut.text.end(), '\n') - 1;  // marker
  EXPECT_EQ(kept_lines + cut.lines_omitted, 1000u);
  EXPECT_EQ(cut.text.size() - marker.size() + cut.bytes_omitted, text.size());
  // Every kept line is whole.
  std::size_t start = 0;
  while (start < cut.text.size()) {
    const std::size_t nl = cut.text.find('\n', start);
    const std::string line = cut.text.substr(start, nl - start);
    EXPECT_TRUE(line.rfind("line ", 0) == 0 || line.rfind("[... ", 0) == 0) << line;
    start = nl + 1;
  }
}

TEST(TextCut, MarkerWithoutPathAndSingular) {
  std::string text = "head\n" + std::string(300, 'x') + "\ntail\n";
  Cut cut = cut_middle(text, 120, "");
  EXPECT_NE(cut.text.find("[... 1 line (301 bytes) omitted ...]\n"), std::string::npos) << cut.text;
  EXPECT_EQ(cut.lines_omitted, 1u);
  EXPECT_EQ(cut.bytes_omitted, 301u);
}

TEST(TextCut, OneHugeLineIsCutAtCharacterBoundaries) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "\xE2\x82\xAC";  // one line of 3-byte characters
  Cut cut = cut_middle(text, 1000, "/l");
  EXPECT_LE(cut.text.size(), 1000u);
  EXPECT_TRUE(valid_utf8(cut.text));
  EXPECT_GT(cut.bytes_omitted, 0u);
  EXPECT_EQ(cut.lines_omitted, 1u);
  EXPECT_NE(cut.text.find("\n[... 1 line"), std::string::npos);
}

TEST(TextCut, TinyBudgetStillGivesMarker) {
  Cut cut = cut_middle(std::string(1000, 'a') + "\n", 10, "/p");
  EXPECT_NE(cut.text.find("omitted"), std::string::npos);
  EXPECT_EQ(cut.bytes_omitted, 1001u);
}

TEST(TextLastLine, SkipsBlankLines) {
  EXPECT_EQ(last_nonempty_line("a\nb\n\n  \n\t\n"), "b");
  EXPECT_EQ(last_nonempty_line("only"), "only");
  EXPECT_EQ(last_nonempty_line("x\n  y  "), "  y  ");
  EXPECT_EQ(last_nonempty_line(""), "");
  EXPECT_EQ(last_nonempty_line("\n\n \n"), "");
}

TEST(RepairUtf8, OneReplacementPerMaximalSubpartAsClean) {
  // Unicode's recommended practice, as in clean(): a truncated sequence is one U+FFFD, a byte
  // that cannot start or continue one is one each.
  EXPECT_EQ(repair_utf8("a\xF0\x9F\x98"
                        "b"),
            "a" + kFFFD + "b");
  EXPECT_EQ(repair_utf8("\xE0\x80"), kFFFD + kFFFD);  // overlong lead, lone continuation
  EXPECT_EQ(repair_utf8("\xED\xA0\x80"), kFFFD + kFFFD + kFFFD);  // a surrogate
  EXPECT_EQ(repair_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
            "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");  // é € 😀 kept
  const std::string controls = std::string("tab\tnul") + '\0' + "esc\x1b[1m";
  EXPECT_EQ(repair_utf8(controls), controls) << "controls are clean()'s business, not the repair's";
  for (std::string_view raw : {"\xF0\x9F\x98", "x\xFFy", "\xC2", "\xE2\x82", "ok", "\x80\x80"}) {
    EXPECT_EQ(repair_utf8(raw), clean(raw))
        << "same rule as clean() for " << raw.size() << " bytes";
    EXPECT_TRUE(valid_utf8(repair_utf8(raw)));
  }
  EXPECT_EQ(utf8_length("a\xF0\x9F\x98"
                        "b\xC3\xA9"),
            4u);  // a, U+FFFD, b, é
}

}  // namespace
}  // namespace meanwhile::text
