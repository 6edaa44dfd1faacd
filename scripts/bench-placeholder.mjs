// The benchmark suite arrives with issue 4 (fast authentication path). Until then this says so plainly.
console.error('npm run bench: not built yet — the benchmark suite is issue 4 (autocannon against a real server process).');
process.exit(1);
