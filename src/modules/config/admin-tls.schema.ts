import { z } from 'zod';

/** `admin.tls`: PEM files of the certificate (with its chain) and private key `tandem serve` speaks HTTPS with. */
export const adminTlsSchema = z.object({
  cert: z.string().min(1, 'must be a file path'),
  key: z.string().min(1, 'must be a file path'),
});
