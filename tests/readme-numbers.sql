-- readme-numbers.sql: every number the README quotes from measurements, as queries over the
-- reference results (results/reference, loaded with `revbench import`). test_reference runs
-- each statement; every row it gives (first column) must appear verbatim in README.md, and a
-- statement that gives no row fails (a claim the reference cannot back). To quote a new
-- number: add the query here, run it (`revbench import results/reference --db /tmp/r.db;
-- sqlite3 /tmp/r.db < tests/readme-numbers.sql`) and paste its rows into the README.
-- When the 16,000-step schedule is in the reference, add its
-- table here the same way (one statement per table: it must give one row per line).

-- The machine and commit of the memory runs ("Results").
SELECT DISTINCT printf('%s, %d online CPUs with %s; %d threads; commit %s', cpu_model, n_cpus,
                       isa, threads, git_rev)
FROM runs WHERE experiment IN ('cifar-memory', 'imagenet-memory');

-- The load they were measured under.
SELECT printf('a 1-minute load average of %.1f to %.1f on %d CPUs', min(load_start),
              max(load_end), max(n_cpus))
FROM runs WHERE experiment IN ('cifar-memory', 'imagenet-memory');

-- Parameter counts of the networks as built, and their agreement with the official code.
SELECT printf('%s %,d', replace(replace(name, 'resnet', 'ResNet'), 'revnet', 'RevNet'), n_params)
FROM archs WHERE name IN ('resnet-32', 'revnet-38', 'revnet-164', 'revnet-104')
  AND dataset IN ('cifar10', 'imagenet');
SELECT printf('%d of %d networks measured here have exactly the parameter count of the official code',
              sum(a.n_params = p.value), count(*))
FROM archs a JOIN paper p ON p.tbl = 'params' AND p.quantity = 'params_counted'
  AND p.arch = a.name AND p.dataset = a.dataset;

-- The memory table: one row per network and backward mode (MB = 10^6 bytes).
WITH m AS (
  SELECT r.id, r.arch, r.mode, r.batch, r.experiment,
         (SELECT n_layers FROM archs WHERE name = r.arch) AS layers,
         (SELECT peak_bytes FROM memory WHERE run_id = r.id AND category = 'activation_peak') AS act,
         (SELECT peak_bytes FROM memory WHERE run_id = r.id AND category = 'kept') AS kept,
         (SELECT peak_bytes FROM memory WHERE run_id = r.id AND category = 'total_peak') AS total,
         (SELECT peak_bytes FROM memory WHERE run_id = r.id AND category = 'max_rss') AS rss
  FROM runs r WHERE r.experiment IN ('cifar-memory', 'imagenet-memory'))
SELECT printf('| %s | %s | %d | %s | %.1f | %.1f | %.1f |',
              replace(replace(arch, 'resnet', 'ResNet'), 'revnet', 'RevNet')
                || CASE WHEN experiment = 'imagenet-memory'
                        THEN printf(' (224x224, batch %d)', batch) ELSE '' END,
              CASE mode WHEN 'reversible' THEN '**reversible**' ELSE mode END, layers,
              CASE mode WHEN 'reversible' THEN printf('**%.1f**', act / 1e6)
                        ELSE printf('%.1f', act / 1e6) END,
              kept / 1e6, total / 1e6, rss / 1e6)
FROM m ORDER BY id;

-- Planned against measured activation peaks.
SELECT printf('planned and measured activation peaks agree to the byte in %d of %d runs',
              sum(planned_bytes = peak_bytes), count(*))
FROM memory m JOIN runs r ON r.id = m.run_id
WHERE m.category = 'activation_peak' AND r.experiment IN ('cifar-memory', 'imagenet-memory');

-- RevNet-38's stored inputs and peak.
SELECT printf('RevNet-38 keeps only its four non-reversible inputs (%.1f MB)', m.peak_bytes / 1e6)
FROM memory m JOIN runs r ON r.id = m.run_id
WHERE r.arch = 'revnet-38' AND r.mode = 'reversible' AND m.category = 'kept';
SELECT printf('brings the activation peak to %.1f MB', m.peak_bytes / 1e6)
FROM memory m JOIN runs r ON r.id = m.run_id
WHERE r.arch = 'revnet-38' AND r.mode = 'reversible' AND m.category = 'activation_peak';

-- Activation memory against depth (memory-depth.ini): the reversible RevNet is flat (the
-- HAVING gives no row, and the test fails, if any depth differs), the others grow.
WITH d AS (
  SELECT r.arch, r.mode, (SELECT n_layers FROM archs WHERE name = r.arch) AS layers,
         m.peak_bytes / 1e6 AS mb
  FROM runs r JOIN memory m ON m.run_id = r.id AND m.category = 'activation_peak'
  WHERE r.experiment = 'memory-depth')
SELECT printf('the reversible RevNet stays at %.1f MB from %d to %,d layers (revnet-basic-%s to -%s)',
              max(mb), min(layers), max(layers), (min(layers) - 2) / 12, (max(layers) - 2) / 12)
FROM d WHERE arch LIKE 'revnet-basic-%' AND mode = 'reversible' HAVING max(mb) = min(mb);
-- Per family and mode: the least-squares slope in MB per layer and the two ends.
WITH d AS (
  SELECT r.arch, r.mode, (SELECT n_layers FROM archs WHERE name = r.arch) AS x,
         m.peak_bytes / 1e6 AS y
  FROM runs r JOIN memory m ON m.run_id = r.id AND m.category = 'activation_peak'
  WHERE r.experiment = 'memory-depth'),
f AS (
  SELECT substr(arch, 1, 6) AS fam, mode, count(*) AS n, sum(x) AS sx, sum(y) AS sy,
         sum(x * x) AS sxx, sum(x * y) AS sxy, min(x) AS lo, max(x) AS hi
  FROM d GROUP BY fam, mode)
SELECT printf('%s %s: %.1f MB per layer, %.1f MB at %d layers, %,d MB at %d',
              CASE f.fam WHEN 'resnet' THEN 'ResNet' ELSE 'RevNet' END, f.mode,
              (f.n * f.sxy - f.sx * f.sy) / (f.n * f.sxx - f.sx * f.sx),
              (SELECT y FROM d WHERE substr(d.arch, 1, 6) = f.fam AND d.mode = f.mode AND d.x = f.lo),
              f.lo,
              CAST(round((SELECT y FROM d WHERE substr(d.arch, 1, 6) = f.fam AND d.mode = f.mode
                                                AND d.x = f.hi)) AS INTEGER),
              f.hi)
FROM f WHERE NOT (f.fam = 'revnet' AND f.mode = 'reversible') AND f.n >= 2
ORDER BY f.fam, f.mode DESC;

-- The quick CIFAR matrix ("Training on CIFAR"): where and how its runs were trained.
SELECT DISTINCT printf('%s, %d online CPUs with %s; %d threads; %s backend; commit %s',
                       cpu_model, n_cpus, isa, threads,
                       substr(backend, 1, instr(backend, ';') - 1), git_rev)
FROM runs WHERE experiment = 'cifar-quick' AND status = 'finished';

-- The quick CIFAR table: test error (%) of each pair on each dataset, the paper's beside ours.
SELECT printf('| %s | %s | %.2f | %s | %.2f | %s |', pair,
              CASE dataset WHEN 'cifar10' THEN 'CIFAR-10' ELSE 'CIFAR-100' END, paper_resnet,
              CASE WHEN ours_resnet IS NULL THEN 'not yet run'
                   ELSE printf('%.2f', ours_resnet) END,
              paper_revnet,
              CASE WHEN ours_revnet IS NULL THEN 'not yet run'
                   ELSE printf('%.2f', ours_revnet) END)
FROM v_cifar_table WHERE schedule = 'quick';

-- The gradient angle, stored against reconstructed activations, that the RevNets log.
SELECT printf('%s on %s: %.1e to %.1e degrees over %d checks, at most %.1e from step 100 on',
              replace(r.arch, 'revnet', 'RevNet'),
              CASE r.dataset WHEN 'cifar10' THEN 'CIFAR-10' ELSE 'CIFAR-100' END,
              min(m.value), max(m.value), count(*),
              max(CASE WHEN m.step >= 100 THEN m.value END))
FROM metrics m JOIN runs r ON r.id = m.run_id
WHERE m.name = 'grad_angle_deg' AND r.experiment = 'cifar-quick' AND r.status = 'finished'
GROUP BY r.id ORDER BY r.id;

-- The long schedule (cifar-long.ini): the test error of each of its finished runs.
SELECT printf('%s reached %.2f%% test error (paper %.2f)',
              replace(replace(r.arch, 'resnet', 'ResNet'), 'revnet', 'RevNet'),
              r.final_test_error, p.value)
FROM runs r JOIN paper p ON p.tbl = 'cifar' AND p.arch = r.arch AND p.dataset = r.dataset
     AND p.quantity = 'test_error'
WHERE r.experiment = 'cifar-long' AND r.status = 'finished';
