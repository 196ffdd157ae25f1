import { formatLsn, parseLsn } from '../../src/shared/lsn';

describe('LSN', () => {
  it('parses and formats PostgreSQL text LSNs exactly', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(parseLsn('0/0'))).toBe('0/0');
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(2n ** 64n - 1n);
  });

  it('rejects text that is not an LSN', () => {
    expect(() => parseLsn('16-B374')).toThrow('not an LSN');
  });
});
