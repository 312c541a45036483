// autocannon against URL with CONNECTIONS until this process gets SIGINT (at most MAX_SECONDS),
// then its summary as JSON on stdout. A child of its own, as a real flood comes from elsewhere;
// its end is the test's to choose (the autocannon CLI runs for a fixed duration only).
//   node flood.mjs URL CONNECTIONS MAX_SECONDS
import autocannon from "autocannon";

const [url, connections, maxSeconds] = process.argv.slice(2);
// sampleInt: autocannon ends at its next sample after stop(), so a flood asked to stop ends within
// 100 ms, not a second: while it runs, a request answered more than 10 s late is a timeout
const run = autocannon({ url, connections: Number(connections), duration: Number(maxSeconds), sampleInt: 100 }, (err, result) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(result));
});
process.once("SIGINT", () => run.stop());
