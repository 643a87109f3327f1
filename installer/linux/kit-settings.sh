# Kit License Server: reads the server's settings file (JSON) the way the server reads it. POSIX sh; sourced by
# install.sh, and copied into the .deb's postinst by packaging/build.sh. Needs awk only (mawk, gawk or busybox):
# no jq or python on a customer's machine.
#
#   kit_setting FILE KEY   prints the value of KEY ("Urls", "Kit:Https:CertificatePath") in FILE; exit 1 when FILE
#                          does not set it (or sets it to an object). As .NET's configuration: keys in any case,
#                          // and /* */ comments and trailing commas allowed, the last of duplicate keys wins,
#                          array items as KEY:0, KEY:1; null reads as empty.
kit_setting() {
  [ -r "$1" ] || return 1
  LC_ALL=C awk -v want="$2" '
    function hex(h,   v, k) {
      v = 0; h = tolower(h)
      for (k = 1; k <= 4; k++) v = v * 16 + index("0123456789abcdef", substr(h, k, 1)) - 1
      return v
    }
    function utf8(v) {
      if (v < 128) return sprintf("%c", v)
      if (v < 2048) return sprintf("%c%c", 192 + int(v / 64), 128 + v % 64)
      return sprintf("%c%c%c", 224 + int(v / 4096), 128 + int(v / 64) % 64, 128 + v % 64)
    }
    # The key of the value starting now, at the current depth: the pending object key, or the next array index.
    function key_here(   name) {
      if (kind[depth] == "a") name = count[depth]++
      else { name = pending[depth]; expect_key[depth] = 1 }
      return path[depth] == "" ? name : path[depth] ":" name
    }
    function scalar(value,   key) {
      if (depth == 0) return
      if (kind[depth] == "o" && expect_key[depth]) { pending[depth] = value; expect_key[depth] = 0; return }
      key = key_here()
      if (tolower(key) == want) { result = value; found = 1 }
    }
    { text = text $0 "\n" }
    END {
      want = tolower(want); n = length(text); i = 1; depth = 0
      while (i <= n) {
        c = substr(text, i, 1)
        if (c == " " || c == "\t" || c == "\n" || c == "\r" || c == "," || c == ":") { i++; continue }
        if (c == "/" && substr(text, i + 1, 1) == "/") { while (i <= n && substr(text, i, 1) != "\n") i++; continue }
        if (c == "/" && substr(text, i + 1, 1) == "*") {
          i += 2
          while (i <= n && substr(text, i, 2) != "*/") i++
          i += 2; continue
        }
        if (c == "{" || c == "[") {
          key = depth == 0 ? "" : key_here()
          depth++; kind[depth] = c == "{" ? "o" : "a"; path[depth] = key; count[depth] = 0; expect_key[depth] = 1
          if (tolower(key) == want) found = 0
          i++; continue
        }
        if (c == "}" || c == "]") { if (depth > 0) depth--; i++; continue }
        if (c == "\"") {
          s = ""; i++
          while (i <= n) {
            c = substr(text, i, 1)
            if (c == "\"") break
            if (c == "\\") {
              e = substr(text, i + 1, 1); i += 2
              if (e == "n") s = s "\n"; else if (e == "t") s = s "\t"; else if (e == "r") s = s "\r"
              else if (e == "b") s = s "\b"; else if (e == "f") s = s "\f"
              else if (e == "u") { s = s utf8(hex(substr(text, i, 4))); i += 4 }
              else s = s e
              continue
            }
            s = s c; i++
          }
          i++; scalar(s); continue
        }
        # A number, true, false or null.
        j = i
        while (j <= n && index(" \t\r\n,:{}[]/\"", substr(text, j, 1)) == 0) j++
        if (j == i) { i++; continue }
        word = substr(text, i, j - i); i = j
        scalar(word == "null" ? "" : word)
      }
      if (found) print result
      exit (found ? 0 : 1)
    }' "$1"
}
