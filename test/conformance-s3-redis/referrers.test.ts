// The conformance file test/conformance/referrers.test.ts, against Berth on S3 (s3rver) + Redis.
process.env.CONFORMANCE_TARGET = 'berth-s3-redis';
await import('../conformance/referrers.test.js');
