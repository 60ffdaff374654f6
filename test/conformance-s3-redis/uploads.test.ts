// The conformance file test/conformance/uploads.test.ts, against Berth on S3 (s3rver) + Redis.
process.env.CONFORMANCE_TARGET = 'berth-s3-redis';
await import('../conformance/uploads.test.js');
