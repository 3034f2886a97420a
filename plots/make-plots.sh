#!/bin/sh
# make-plots.sh [--against REF] [DB] [OUT]: every figure of the reproduction from the results
# database, from the shipped reference results, or from both.
#   DB    your results database (default results/results.db)
#   OUT   figure folder (default paper/figures); each figure as NAME.png and NAME.svg
#   REF   reference results: a folder written by `revbench export` (results/reference; loaded
#         with `revbench import`, the binary named by $REVBENCH, default build/revbench) or a
#         database file.
# With REF and DB: each figure draws your runs over the reference ones (the reference in
# thinner, lighter lines, labelled "ref:"). With REF alone (no DB): the figures come from the
# reference and say so in their titles. With DB alone: as before, your runs only.
# Reads the databases with the sqlite3 command into temporary .dat files and draws them with
# the gnuplot scripts beside this file. A figure without data is skipped with "skipped NAME:
# why" rather than drawn empty. Exits non-zero if gnuplot fails or prints anything on stderr;
# a figure is written in both formats or not at all. The databases are only read: a read-only
# file or folder is fine. Every name from a database reaches SQL and gnuplot through quote(),
# never pasted raw, so any experiment or network name is drawn as it is.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=""
if [ "${1:-}" = "--against" ]; then
    [ $# -ge 2 ] || { echo "make-plots: --against needs a folder or database" >&2; exit 2; }
    REF=$2; shift 2
fi
DB=${1:-results/results.db}
OUT=${2:-paper/figures}
case $DB in /*) ;; *) DB=$PWD/$DB ;; esac
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
case $REF in /*|"") ;; *) REF=$PWD/$REF ;; esac
for tool in sqlite3 gnuplot; do
    command -v $tool >/dev/null 2>&1 || { echo "make-plots: $tool is not installed (apt-get install $tool)" >&2; exit 1; }
done
if [ ! -f "$DB" ] && [ -z "$REF" ]; then
    echo "make-plots: no results database at $DB (or draw the shipped reference results: make-plots.sh --against results/reference)" >&2
    exit 1
fi
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The sources, as "TAG|DB" lines: the reference first (drawn underneath), then yours.
: > "$TMP/sources"
if [ -n "$REF" ]; then
    if [ -d "$REF" ]; then
        REVBENCH=${REVBENCH:-$ROOT/build/revbench}
        [ -x "$REVBENCH" ] || { echo "make-plots: $REVBENCH not found: build first (make build) or set REVBENCH" >&2; exit 1; }
        "$REVBENCH" import "$REF" --db "$TMP/reference.db" >/dev/null || exit 1
        echo "ref|$TMP/reference.db" >> "$TMP/sources"
    elif [ -f "$REF" ]; then
        echo "ref|$REF" >> "$TMP/sources"
    else
        echo "make-plots: no reference results at $REF" >&2; exit 1
    fi
fi
[ -f "$DB" ] && echo "yours|$DB" >> "$TMP/sources"
n_sources=$(wc -l < "$TMP/sources")
if [ "$n_sources" -eq 2 ]; then
    SUFFIX=" (yours over the reference results)"
elif [ -n "$REF" ]; then
    SUFFIX=" (reference results)"
else
    SUFFIX=""
fi
cd "$ROOT"
status=0
made=0

# quote TEXT: TEXT as a single-quoted literal, for SQL and for gnuplot alike (both write a
# quote inside one as two quotes, and neither reads backslashes there).
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
# uri PATH: the SQLite URI of a database file, opened read-only. A WAL database needs its -shm
# file, which a read-only folder cannot hold; nothing can be writing such a file, so it is
# then read as immutable (as revbench report does). Path characters that URIs reserve are
# escaped.
uri() {
    u="file:$(printf '%s' "$1" | sed 's/%/%25/g; s/?/%3f/g; s/#/%23/g')"
    if sqlite3 -batch "$u?mode=ro" "SELECT count(*) FROM sqlite_master" >/dev/null 2>&1; then
        echo "$u?mode=ro"
    else
        echo "$u?immutable=1"
    fi
}
# q SQL: one query on the current source ($CUR, a URI), fields separated by spaces; qs SQL:
# the same with fields separated by '|', for fields that may be empty or hold spaces.
CUR=$(uri "$DB")
q() { sqlite3 -batch -separator ' ' "$CUR" "$@"; }
qs() { sqlite3 -batch -separator '|' "$CUR" "$@"; }
# use TAG DB: makes a source current. A series of the reference is labelled "ref:" and drawn
# light (ref=1 in the gnuplot scripts); with one source nothing is prefixed.
use() {
    CUR=$(uri "$2")
    if [ "$n_sources" -eq 2 ] && [ "$1" = ref ]; then P="ref:"; R=1; else P=""; R=0; fi
}

# draw NAME SCRIPT gnuplot-assignments...: PNG and SVG, stderr must stay empty. Both are drawn
# in $TMP and moved into $OUT together, so a failure leaves neither (nor a stale pair changed
# by half).
draw() {
    name=$1; script=$2; shift 2
    rm -f "$TMP/figure.png" "$TMP/figure.svg"
    for fmt in png svg; do
        if ! gnuplot -e "out=$(quote "$TMP/figure"); fmt='$fmt'; suffix=$(quote "$SUFFIX")" "$@" "plots/$script" 2>"$TMP/err"; then
            echo "make-plots: gnuplot failed on $name:" >&2; cat "$TMP/err" >&2; status=1; return
        fi
        if [ -s "$TMP/err" ]; then
            echo "make-plots: gnuplot warned on $name:" >&2; cat "$TMP/err" >&2; status=1; return
        fi
    done
    if ! mv -f "$TMP/figure.png" "$OUT/$name.png" || ! mv -f "$TMP/figure.svg" "$OUT/$name.svg"; then
        status=1; return
    fi
    echo "wrote $OUT/$name.png and .svg"
    made=$((made + 1))
}
# fname TEXT: TEXT made safe as part of a file name (any character outside [A-Za-z0-9._-]
# becomes '_'); the figure's title keeps the name as it is.
fname() { printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_'; }

# Training curves: one figure per matched pair and dataset (pairs table), and one per
# experiment and dataset for training runs of networks outside the paper's pairs; each
# source's runs in the same figure.
curves() {
    name=$1; title=$2; dataset=$3; shift 3
    d=$TMP/$name; mkdir -p "$d"
    lf=""; lt=""; lc=""; ld=""; lr=""; ef=""; et=""; ec=""; ed=""; er=""
    while IFS='|' read -r tag sdb; do
        use "$tag" "$sdb"; idx=0
        for arch in "$@"; do
            idx=$((idx + 1))
            for m in train_loss test_loss train_error test_error; do
                f="$tag.$arch.$m.dat"
                q "SELECT step, value FROM v_training_curves WHERE arch = $(quote "$arch")
                   AND dataset = $(quote "$dataset") AND name = '$m' AND run_id = (SELECT max(run_id)
                   FROM v_training_curves WHERE arch = $(quote "$arch") AND dataset = $(quote "$dataset")
                   AND name = '$m') ORDER BY step" > "$d/$f"
                [ -s "$d/$f" ] || continue
                label="$P$arch:${m%_*}"
                case $m in train*) dt=3 ;; *) dt=1 ;; esac
                case $m in
                    *loss) lf="$lf $f"; lt="$lt $label"; lc="$lc $idx"; ld="$ld $dt"; lr="$lr $R" ;;
                    *) ef="$ef $f"; et="$et $label"; ec="$ec $idx"; ed="$ed $dt"; er="$er $R" ;;
                esac
            done
        done
    done < "$TMP/sources"
    if [ -z "$lf" ] || [ -z "$ef" ]; then
        echo "skipped $name: no logged losses and errors for $* on $dataset"; return
    fi
    draw "$name" curves.gp -e "dir=$(quote "$d"); title=$(quote "$title"); lossfiles=$(quote "$lf"); losstitles=$(quote "$lt"); losscol='$lc'; lossdt='$ld'; lossref='$lr'; errfiles=$(quote "$ef"); errtitles=$(quote "$et"); errcol='$ec'; errdt='$ed'; errref='$er'"
}

# What to draw is the union over the sources.
: > "$TMP/pairs.txt"; : > "$TMP/others.txt"
while IFS='|' read -r tag sdb; do
    use "$tag" "$sdb"
    q "SELECT p.resnet || ' ' || p.revnet || ' ' || d.dataset || ' ' || p.ord FROM pairs p JOIN
       (SELECT DISTINCT arch, dataset FROM v_training_curves) d ON d.arch IN (p.resnet, p.revnet)
       GROUP BY p.pair, d.dataset" >> "$TMP/pairs.txt"
    # '|'-separated: a run of plain `revbench train` has the experiment '' (or NULL).
    qs "SELECT DISTINCT coalesce(r.experiment, ''), r.dataset FROM v_latest_runs r WHERE r.kind = 'train'
        AND r.arch NOT IN (SELECT resnet FROM pairs UNION SELECT revnet FROM pairs)
        AND EXISTS (SELECT 1 FROM metrics k WHERE k.run_id = r.id)" >> "$TMP/others.txt"
done < "$TMP/sources"
sort -u -k4,4n -k3,3 "$TMP/pairs.txt" > "$TMP/pairs.sorted"
sort -u "$TMP/others.txt" > "$TMP/others.sorted"
if [ ! -s "$TMP/pairs.sorted" ]; then
    echo "skipped curves of the paper's pairs: no training runs of them in the database"
fi
# (Loops read from files, not pipes, so that draw's status and count survive them.)
while read -r res rev ds _ord; do
    curves "curves-$res-$rev-$ds" "$res / $rev on $ds" "$ds" "$res" "$rev"
done < "$TMP/pairs.sorted"
while IFS='|' read -r exp ds; do
    : > "$TMP/archs.txt"
    while IFS='|' read -r tag sdb; do
        use "$tag" "$sdb"
        q "SELECT DISTINCT arch FROM v_latest_runs WHERE kind = 'train'
           AND coalesce(experiment, '') = $(quote "$exp") AND dataset = $(quote "$ds")" >> "$TMP/archs.txt"
    done < "$TMP/sources"
    archs=$(sort -u "$TMP/archs.txt" | head -n 8 | tr '\n' ' ')
    # Runs of plain `revbench train` (no experiment) are drawn as "direct".
    # shellcheck disable=SC2086
    curves "curves-$(fname "${exp:-direct}")-$(fname "$ds")" "${exp:-revbench train} on $ds" "$ds" $archs
done < "$TMP/others.sorted"

# Quantity against depth for the depth families (memory-depth experiment).
depth() {
    name=$1; column=$2; ylabel=$3; title=$4
    d=$TMP/$name; mkdir -p "$d"
    files=""; titles=""; refs=""
    while IFS='|' read -r tag sdb; do
        use "$tag" "$sdb"
        series=$(q "SELECT DISTINCT substr(arch, 1, length(rtrim(arch, '0123456789')) - 1) || ' ' || mode || ' ' || device
                    FROM v_memory WHERE arch LIKE '%-basic-%' OR arch LIKE '%-bottleneck-%' ORDER BY 1")
        for s in $(echo "$series" | tr ' ' '|'); do
            fam=${s%%|*}; rest=${s#*|}; mode=${rest%%|*}; dev=${rest#*|}
            f="$tag.$fam.$mode.$dev.dat"
            q "SELECT n_layers, $column FROM v_memory WHERE arch LIKE $(quote "$fam-%") AND mode = $(quote "$mode")
               AND device = $(quote "$dev") AND n_layers IS NOT NULL AND $column > 0 ORDER BY n_layers" > "$d/$f"
            [ "$(wc -l < "$d/$f")" -ge 2 ] || continue
            files="$files $f"; titles="$titles $P$fam:$mode:$dev"; refs="$refs $R"
        done
    done < "$TMP/sources"
    if [ -z "$files" ]; then
        echo "skipped $name: no depth family measured at 2 or more depths (experiments/memory-depth.ini)"; return
    fi
    draw "$name" depth.gp -e "dir=$(quote "$d"); files=$(quote "$files"); titles=$(quote "$titles"); refs='$refs'; ylabel=$(quote "$ylabel"); title=$(quote "$title")"
}
depth memory-depth activation_peak_mib "peak activation memory (MiB)" "Activation memory against depth"
depth time-depth ms_per_step "ms per training step" "Step time against depth"

# Gradient angle during training.
d=$TMP/angle; mkdir -p "$d"; files=""; titles=""; refs=""; ymax=0
# The axis is logarithmic, so only positive angles are drawn: an angle of exactly 0 (a RevNet
# with no reversible unit, such as revnet-basic-1, reconstructs nothing) has no place on it.
while IFS='|' read -r tag sdb; do
    use "$tag" "$sdb"
    for r in $(q "SELECT DISTINCT r.id || '|' || r.arch || '|' || r.dataset FROM v_latest_runs r
                  JOIN metrics k ON k.run_id = r.id AND k.name = 'grad_angle_deg' AND k.value > 0
                  ORDER BY r.id"); do
        id=${r%%|*}; label=${r#*|}; label=$(echo "$label" | tr '|' ':')
        case $id in ''|*[!0-9]*) continue ;; esac
        q "SELECT step, value FROM metrics WHERE run_id = $id AND name = 'grad_angle_deg'
           AND value > 0 ORDER BY step" > "$d/$tag.$id.dat"
        files="$files $tag.$id.dat"; titles="$titles $P$label"; refs="$refs $R"
    done
    m=$(q "SELECT coalesce(max(value), 0) FROM metrics WHERE name = 'grad_angle_deg'")
    ymax=$(echo "$ymax $m" | awk '{ print ($2 > $1) ? $2 : $1 }')
done < "$TMP/sources"
if [ -z "$files" ]; then
    echo "skipped grad-angle: no run logged a positive grad_angle_deg (experiments/grad-angle.ini)"
else
    draw grad-angle angle.gp -e "dir=$(quote "$d"); files=$(quote "$files"); titles=$(quote "$titles"); refs='$refs'; ymax=$ymax"
fi

# Bar charts compare networks within one set of runs, so they come from one source: yours
# when it has the runs they need, else the reference; the title says which.
bar_source() {  # bar_source SQL-that-counts: sets CUR, BAR_SUFFIX
    BAR_SUFFIX=""; found=""
    while IFS='|' read -r tag sdb; do
        use "$tag" "$sdb"
        [ "$(q "$1")" -gt 0 ] && { found=$tag; fdb=$sdb; }
    done < "$TMP/sources"
    [ -n "$found" ] || return 1
    CUR=$fdb
    if [ "$found" = ref ] && [ -n "$REF" ]; then BAR_SUFFIX=" (reference results)";
    elif [ "$n_sources" -eq 2 ]; then BAR_SUFFIX=" (yours)"; fi
    return 0
}

# Memory per category for the named networks (or any measured network if none).
if ! bar_source "SELECT count(*) FROM memory m JOIN v_memory v ON v.run_id = m.run_id
                 WHERE category NOT IN ('activation_peak', 'total_peak', 'max_rss', 'arena', 'device_in_use')
                 AND peak_bytes > 0"; then
    echo "skipped memory-breakdown: no mem run recorded per-category memory"
else
    cats=$(q "SELECT DISTINCT category FROM memory m JOIN v_memory v ON v.run_id = m.run_id
              WHERE category NOT IN ('activation_peak', 'total_peak', 'max_rss', 'arena', 'device_in_use')
              AND peak_bytes > 0 ORDER BY category" | tr '\n' ' ')
    f=$TMP/breakdown.dat
    { printf 'network'; for c in $cats; do printf ' %s' "$c"; done; printf '\n'; } > "$f"
    # The paper's 14 named networks (6 CIFAR x 2 modes + the ImageNet pair) fit in 16 bars;
    # depth-family members are drawn only when no named network was measured.
    q "SELECT run_id, arch || ':' || mode || ':' || device FROM v_memory
       WHERE NOT (arch LIKE '%-basic-%' OR arch LIKE '%-bottleneck-%')
          OR NOT EXISTS (SELECT 1 FROM v_memory WHERE arch NOT LIKE '%-basic-%'
                         AND arch NOT LIKE '%-bottleneck-%')
       ORDER BY device, n_layers, arch, mode LIMIT 16" > "$TMP/bd.txt"
    while read -r id label; do
        case $id in ''|*[!0-9]*) continue ;; esac
        printf '%s' "$label"
        for c in $cats; do
            printf ' %s' "$(q "SELECT coalesce(peak_bytes, 0) / 1048576.0 FROM memory WHERE run_id = $id AND category = $(quote "$c")
                              UNION ALL SELECT 0 LIMIT 1")"
        done
        printf '\n'
    done < "$TMP/bd.txt" >> "$f"
    n=$(( $(echo "$cats" | wc -w) + 1 ))
    SUFFIX_ALL=$SUFFIX; SUFFIX=$BAR_SUFFIX
    draw memory-breakdown breakdown.gp -e "data=$(quote "$f"); ncols=$n"
    SUFFIX=$SUFFIX_ALL
fi

# CPU against GPU: networks measured on both.
CPUGPU="FROM v_memory c JOIN v_memory g
   ON g.arch = c.arch AND g.mode = c.mode AND g.batch = c.batch AND g.device = 'cuda'
   WHERE c.device = 'cpu' AND c.ms_per_step > 0 AND g.ms_per_step > 0"
if ! bar_source "SELECT count(*) $CPUGPU"; then
    echo "skipped cpu-gpu: no network measured on both cpu and cuda at the same batch"
else
    f=$TMP/cpugpu.dat
    echo "network cpu cuda" > "$f"
    q "SELECT c.arch || ':' || c.mode, c.ms_per_step, g.ms_per_step $CPUGPU
       GROUP BY c.arch, c.mode ORDER BY c.arch LIKE '%-basic-%', c.arch, c.mode LIMIT 16" >> "$f"
    SUFFIX_ALL=$SUFFIX; SUFFIX=$BAR_SUFFIX
    draw cpu-gpu cpugpu.gp -e "data=$(quote "$f")"
    SUFFIX=$SUFFIX_ALL
fi

echo "make-plots: $made figure(s) in $OUT"
exit $status
