#!/usr/bin/env bash
# The repository stands alone (docs/style.md, rule 30): every rule the code follows is in it.
# Fails, with one line per hit, when a file outside docs/ cites a document that is not in the
# repository (providers.md without docs/, e-receipts.md, STYLE.md, product.md, anchors.md, a
# path into ../shared, a section sign, "rule N" not preceded by "docs/style.md, "), and when
# any file (docs/ included) names a docs/NAME.md that does not exist or an anchor
# (docs/NAME.md#anchor, or a bare #anchor after it) that is not a heading of that document.
#
#   bash tests/tidy/standalone.sh [ROOT]
#
# tests/tidy/standalone-pending.txt lists, as "path:line", lines that are known to fail and
# are allowed for now; an entry that no longer matches is reported so it can be deleted.
# Needs only bash, git (optional: without it, find) and perl-base.
set -u
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$root" || exit 2
pending=tests/tidy/standalone-pending.txt

# The files of the tree: tracked and new ones (not ignored); without git, every file outside
# the build trees, node_modules and var/.
list_files() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files --cached --others --exclude-standard
    else
        find . \( -name 'build*' -o -name .git -o -name node_modules -o -name var \) -prune \
            -o -type f -print | sed 's|^\./||'
    fi
}

list_files | sort -u | PENDING=$pending perl -e '
use strict;
use warnings;

my $pending_file = $ENV{PENDING};
my @files = grep { length && -f $_ } map { chomp; $_ } <STDIN>;
# The check itself and its allow-list spell out the patterns they look for.
my %self = map { $_ => 1 } ("tests/tidy/standalone.sh", $pending_file);

# GitHub-style heading anchors of a markdown document (links and code marks reduced to
# their text first).
my %anchors;
sub anchors_of {
    my ($doc) = @_;
    return $anchors{$doc} if exists $anchors{$doc};
    my %a;
    if (open(my $fh, "<", $doc)) {
        my $fence = 0;
        while (my $l = <$fh>) {
            $fence = !$fence if $l =~ /^\s*```/;
            next if $fence;
            next unless $l =~ /^#{1,6}\s+(.*?)\s*#*\s*$/;
            my $t = $1;
            $t =~ s/\[([^\]]*)\]\([^)]*\)/$1/g;
            $t = lc $t;
            $t =~ s/[^a-z0-9 _-]//g;
            $t =~ s/ /-/g;
            $a{$t} = 1;
        }
        close $fh;
    }
    $anchors{$doc} = \%a;
    return \%a;
}
my %all_anchors;
for my $doc (grep { m{^docs/[^/]+\.md$} } @files) {
    $all_anchors{$_} = 1 for keys %{ anchors_of($doc) };
}

# The numbered rules of docs/style.md ("N. **...").
my %style_rules;
if (open(my $fh, "<", "docs/style.md")) {
    while (my $l = <$fh>) {
        $style_rules{$1} = 1 if $l =~ /^\s*([0-9]+)\. /;
    }
    close $fh;
}

my %allowed;
my %used;
if (open(my $fh, "<", $pending_file)) {
    while (my $l = <$fh>) {
        chomp $l;
        next if $l =~ /^#/ || $l eq "";
        $allowed{$l} = 1;
    }
    close $fh;
}

my $bad = 0;
sub hit {
    my ($f, $n, $line, $why) = @_;
    my $key = "$f:$line";
    if ($allowed{$key}) {
        $used{$key} = 1;
        return;
    }
    (my $shown = $line) =~ s/^\s+//;
    print "standalone: $f:$n: $why: $shown\n";
    $bad = 1;
}

for my $f (@files) {
    next if $self{$f};
    next if -B $f;
    open(my $fh, "<", $f) or next;
    my $in_docs = $f =~ m{^docs/};
    my $dir = $f =~ m{^(.*)/} ? $1 : ".";
    my $n = 0;
    while (my $line = <$fh>) {
        $n++;
        chomp $line;
        if (!$in_docs) {
            hit($f, $n, $line, "providers.md outside docs/") if $line =~ m{(?<!docs/)\bproviders\.md};
            hit($f, $n, $line, "a document not in the repository")
                if $line =~ /\b(?:e-receipts|STYLE|product|anchors)\.md/;
            hit($f, $n, $line, "a path outside the repository") if $line =~ m{\.\./shared|/work/shared|\bshared/(?:reference|style|design)};
            hit($f, $n, $line, "a numbered section of a document not in the repository")
                if $line =~ /\xc2\xa7/;
            hit($f, $n, $line, "a rule number without docs/style.md")
                if $line =~ /(?<!docs\/style\.md, )\b[Rr]ule [0-9]+/;
        }
        # "docs/style.md, rule N" (or "rules N and M"): N must be one of its rules.
        while ($line =~ /docs\/style\.md, rules? ([0-9]+(?:(?:, | and )[0-9]+)*)/g) {
            for my $r (split /, | and /, $1) {
                hit($f, $n, $line, "docs/style.md has no rule $r") unless $style_rules{$r};
            }
        }
        # docs/NAME.md and docs/NAME.md#anchor, then bare #anchors after it on the line.
        my $doc;
        my @refs;
        while ($line =~ m{(?<![A-Za-z0-9_./-])((?:\.\./)*docs/[a-z0-9][a-z0-9_.-]*\.md)(#[A-Za-z0-9_-]+)?}g) {
            my ($path, $anchor) = ($1, $2);
            $path =~ s{^(?:\.\./)+}{};
            push @refs, [$path, $anchor];
        }
        # Inside docs/, relative links: [text](NAME.md#anchor).
        if ($in_docs) {
            while ($line =~ m{\]\(([A-Za-z0-9_.-]+\.md)?(#[A-Za-z0-9_-]+)?\)}g) {
                my ($path, $anchor) = ($1, $2);
                next unless defined $path || defined $anchor;
                push @refs, [defined $path ? "$dir/$path" : $f, $anchor];
            }
        }
        for my $r (@refs) {
            my ($path, $anchor) = @$r;
            next if $path !~ m{^docs/};
            if (!-f $path) {
                hit($f, $n, $line, "$path does not exist");
                next;
            }
            if (defined $anchor) {
                (my $a = $anchor) =~ s/^#//;
                hit($f, $n, $line, "$path has no heading for #$a") unless anchors_of($path)->{$a};
            }
        }
        if (!$in_docs) {
            # A bare #anchor (with a hyphen, after a space, a bracket, a comma or a slash) is a
            # continuation of a docs/ reference: it must be a heading of some document.
            while ($line =~ m{(?:^|[\s(,/])#([a-z][a-z0-9]*-[a-z0-9-]*[a-z0-9])\b}g) {
                my $a = $1;
                hit($f, $n, $line, "no document has a heading for #$a") unless $all_anchors{$a};
            }
        }
    }
    close $fh;
}

for my $k (sort keys %allowed) {
    print "standalone: fixed, delete from $pending_file: $k\n" unless $used{$k};
}
print "standalone: ok", (%used ? " (" . scalar(keys %used) . " pending lines allowed by $pending_file)" : ""), "\n"
    unless $bad;
exit $bad;
'
