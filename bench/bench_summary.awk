# bench_summary.awk - agecl against PyTorch, from the JSON lines of agecl-bench
# and torch_bench.py (any number of rounds of each, in any files):
#
#   awk -f bench/bench_summary.awk agecl.jsonl torch.jsonl
#
# For each figure (the training step, inference) and each implementation and
# device: the median images/s over the records, then every agecl device's
# median divided by every PyTorch device's, and by the best of them. Plain POSIX
# awk (mawk will do): the records are one flat JSON object per line, as both
# programs write them.

# The string or number value of "key" in the line; "" when absent.
function field(line, key,    m) {
    if (match(line, "\"" key "\": \"[^\"]*\"")) {
        m = substr(line, RSTART, RLENGTH)
        sub("^\"" key "\": \"", "", m)
        return substr(m, 1, length(m) - 1)
    }
    if (match(line, "\"" key "\": [-+0-9.eE]+")) {
        m = substr(line, RSTART, RLENGTH)
        sub("^\"" key "\": ", "", m)
        return m
    }
    return ""
}

function median(key,    n, i, j, v, t) {
    n = count[key]
    for (i = 1; i <= n; i++) v[i] = values[key, i] + 0
    for (i = 2; i <= n; i++) {  # insertion sort: a handful of rounds
        t = v[i]
        for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]
        v[j + 1] = t
    }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}

{
    section = field($0, "section")
    if (section != "step" && section != "infer") next
    impl = field($0, "impl")
    ips = field($0, "images_per_s")
    if (impl == "" || ips == "") next
    key = section SUBSEP impl SUBSEP field($0, "device")
    if (!(key in count)) {
        order[++keys] = key
        batch[key] = field($0, "batch")
        preset[key] = field($0, "preset")
    }
    values[key, ++count[key]] = ips
}

END {
    if (!keys) {
        print "bench_summary: no step or infer records" > "/dev/stderr"
        exit 1
    }
    printf "%-6s %-8s %-50s %6s %6s %5s %12s\n", "figure", "impl", "device", "preset", \
        "batch", "n", "images/s"
    for (i = 1; i <= keys; i++) {
        split(order[i], k, SUBSEP)
        med[order[i]] = median(order[i])
        printf "%-6s %-8s %-50s %6s %6s %5d %12.2f\n", k[1], k[2], substr(k[3], 1, 50), \
            preset[order[i]], batch[order[i]], count[order[i]], med[order[i]]
    }
    header = 0
    for (i = 1; i <= keys; i++) {
        split(order[i], a, SUBSEP)
        if (a[2] != "agecl") continue
        for (j = 1; j <= keys; j++) {
            split(order[j], p, SUBSEP)
            if (p[2] != "pytorch" || p[1] != a[1]) continue
            if (!header++) printf "\n%-6s %-50s %-28s %8s\n", "figure", "agecl device", \
                "pytorch", "ratio"
            printf "%-6s %-50s %-28s %8.3f\n", a[1], substr(a[3], 1, 50), p[3], \
                med[order[i]] / med[order[j]]
            if (!((order[i]) in best) || med[order[j]] > best[order[i]]) {
                best[order[i]] = med[order[j]]
                best_name[order[i]] = p[3]
            }
        }
    }
    header = 0
    for (i = 1; i <= keys; i++) {
        if (!((order[i]) in best)) continue
        split(order[i], a, SUBSEP)
        if (!header++) printf "\n%-6s %-50s %-28s %8s\n", "figure", "agecl device", \
            "best pytorch", "ratio"
        printf "%-6s %-50s %-28s %8.3f\n", a[1], substr(a[3], 1, 50), best_name[order[i]], \
            med[order[i]] / best[order[i]]
    }
}
