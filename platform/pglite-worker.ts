/** Worker thread hosting one embedded PGlite database behind a Postgres wire-protocol socket. */
import { parentPort, workerData } from 'node:worker_threads';
import { mkdirSync } from 'node:fs';

async function main(): Promise<void> {
  const { dataDir, port } = workerData as { dataDir: string; port: number };
  mkdirSync(dataDir, { recursive: true }); // PGlite does not create parent folders
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create(dataDir);
  // maxConnections stays 1: a second connection on one PGlite silently mixes up results.
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' });
  await server.start();
  parentPort!.on('message', async (msg) => {
    if (msg === 'stop') {
      await server.stop();
      await db.close();
      parentPort!.postMessage('stopped');
    }
  });
  parentPort!.postMessage('ready');
}

main().catch((err) => {
  parentPort!.postMessage({ error: String(err?.stack ?? err) });
});
