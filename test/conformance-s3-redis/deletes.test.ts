// The conformance file test/conformance/deletes.test.ts, against Berth on S3 (s3rver) + Redis.
process.env.CONFORMANCE_TARGET = 'berth-s3-redis';
await import('../conformance/deletes.test.js');
