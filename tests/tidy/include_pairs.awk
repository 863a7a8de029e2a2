# Run by layout.sh over every .c and .h file of the tree (paths relative to the root):
# prints one line per pair of .c files that include each other's headers, "X.c and Y.c
# include each other (the header X.c includes, the header Y.c includes)".
#
# A header belongs to the .c file of its name (X.h and X_int.h to X.c in the same folder)
# and to every .c file that defines a function it declares. X.c includes Y's header when it
# includes, directly, Y's header by name, or a header that declares a function Y.c defines
# and X.c calls (a header declaring the functions of several files counts for each of them
# only where it is used: a file including ledger.h for its own functions does not depend
# on the others). Comments and string literals are not code; top-level declarations and
# definitions are found by the layout of our sources (at column 0, the name before "(").
function base(p) { sub(/.*\//, "", p); return p }
function dir(p) { if (p !~ /\//) return ""; sub(/\/[^\/]*$/, "", p); return p "/" }
# The line without its comments (in_comment carries a /* ... */ across lines) and strings.
function code(line,    out, i, j) {
    out = ""
    while (line != "") {
        if (in_comment) {
            i = index(line, "*/")
            if (i == 0) return out
            line = substr(line, i + 2)
            in_comment = 0
            continue
        }
        i = index(line, "/*")
        j = index(line, "//")
        if (j > 0 && (i == 0 || j < i)) { out = out substr(line, 1, j - 1); break }
        if (i == 0) { out = out line; break }
        out = out substr(line, 1, i - 1) " "
        line = substr(line, i + 2)
        in_comment = 1
    }
    gsub(/"([^"\\]|\\.)*"/, "\"\"", out)
    return out
}
# The name of the function a top-level line declares or defines, or "".
function fname(line,    s) {
    if (line !~ /^[A-Za-z_]/ || line ~ /^(static|typedef|extern|#)/ || line ~ /^(struct|enum|union) [A-Za-z0-9_]+ *\{/)
        return ""
    if (!match(line, /[A-Za-z_][A-Za-z0-9_]*[ ]*\(/)) return ""
    s = substr(line, RSTART, RLENGTH)
    sub(/[ ]*\($/, "", s)
    if (substr(line, 1, RSTART - 1) !~ /[A-Za-z_*][ *]*$/) return ""
    return s
}
FNR == 1 { in_comment = 0; is_c = FILENAME ~ /\.c$/; if (is_c) cfiles[FILENAME] = 1
           else hpath[base(FILENAME)] = FILENAME }
{
    raw = $0
    if (raw ~ /^#[ ]*include[ ]*"/) {
        inc = raw; sub(/^#[ ]*include[ ]*"/, "", inc); sub(/".*/, "", inc)
        if (is_c) includes[FILENAME, base(inc)] = 1
        next
    }
    line = code(raw)
    f = fname(line)
    if (f != "") {
        if (is_c && line !~ /;[ ]*$/) defined[f] = FILENAME
        if (!is_c) { declared[FILENAME, f] = 1; decls[FILENAME] = decls[FILENAME] " " f }
    }
    if (is_c) {
        n = split(line, tok, /[^A-Za-z0-9_]+/)
        for (k = 1; k <= n; k++) if (tok[k] != "") uses[FILENAME, tok[k]] = 1
    }
}
END {
    for (key in includes) {
        split(key, kv, SUBSEP); x = kv[1]; h = kv[2]
        if (!(h in hpath)) continue
        hp = hpath[h]
        # The header's own module, by name.
        own = dir(hp) h; sub(/(_int)?\.h$/, ".c", own)
        if ((own in cfiles) && own != x) edge[x, own] = h
        # The modules whose functions it declares and x calls.
        m = split(decls[hp], names, " ")
        for (k = 1; k <= m; k++) {
            y = defined[names[k]]
            if (y != "" && y != x && ((x, names[k]) in uses) && !((x, y) in edge))
                edge[x, y] = h
        }
    }
    for (key in edge) {
        split(key, kv, SUBSEP); x = kv[1]; y = kv[2]
        if (x < y && ((y, x) in edge))
            print x " and " y " include each other (" edge[x, y] ", " edge[y, x] ")"
    }
}
