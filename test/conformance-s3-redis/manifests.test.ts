// The conformance file test/conformance/manifests.test.ts, against Berth on S3 (s3rver) + Redis.
process.env.CONFORMANCE_TARGET = 'berth-s3-redis';
await import('../conformance/manifests.test.js');
