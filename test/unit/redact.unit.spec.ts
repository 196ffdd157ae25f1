import { redactSecrets, withoutConnectionStrings } from '../../src/shared/redact';

describe('redactSecrets', () => {
  it('removes passwords from connection URLs and key=value text', () => {
    expect(redactSecrets('connect postgres://app:s3cret@db:5432/x failed')).toBe('connect postgres://app:***@db:5432/x failed');
    expect(redactSecrets('host=db password=s3cret user=app')).toBe('host=db password=*** user=app');
    expect(redactSecrets('postgres://app@db/x')).toBe('postgres://app@db/x');
  });

  // [input, expected]: the password never survives in any part, the rest of the URL stays readable.
  const shapes: Array<[string, string]> = [
    ['postgres://app:p@ss@db/app', 'postgres://app:***@db/app'],
    ['postgres://:secret@db', 'postgres://:***@db'],
    ['postgres://:secret@db:5432/app?sslmode=require', 'postgres://:***@db:5432/app?sslmode=require'],
    ['postgresql://app:s3cret@db', 'postgresql://app:***@db'],
    ['postgres://app:a@b@c@db:5432/x', 'postgres://app:***@db:5432/x'],
    ['postgres://app:@db/x', 'postgres://app:***@db/x'],
    ['postgres://app:pa:ss@db/x', 'postgres://app:***@db/x'],
    ['postgres://app:pa/ss@db/x', 'postgres://app:***@db/x'],
    ['postgres://app:pa?ss@db/x', 'postgres://app:***@db/x'],
    ['postgres://app:pa#ss@db/x', 'postgres://app:***@db/x'],
    ['postgres://app:p%40ss@[::1]:5432/x', 'postgres://app:***@[::1]:5432/x'],
    ['postgres://app:s3cret@db1:5432,db2:5433/x', 'postgres://app:***@db1:5432,db2:5433/x'],
    ['POSTGRES://APP:S3CRET@DB/X', 'POSTGRES://APP:***@DB/X'],
    ['kafka://user:s3cret@broker:9092', 'kafka://user:***@broker:9092'],
    ['https://user:s3cret@host/path', 'https://user:***@host/path'],
    ['http://host:8080/users/a@b.example', 'http://host:8080/users/a@b.example'],
    ['https://host/path?mail=a@b.example', 'https://host/path?mail=a@b.example'],
    ['postgres://db/app', 'postgres://db/app'],
    ['postgres://app@db', 'postgres://app@db'],
  ];
  it.each(shapes)('redacts %s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
    expect(redactSecrets(`error: connect "${input}" failed`)).toBe(`error: connect "${expected}" failed`);
    expect(redactSecrets(`{"url":"${input}","x":1}`)).toBe(`{"url":"${expected}","x":1}`);
  });

  it('never leaves any part of a password containing @ in the text', () => {
    for (const password of ['p@ss', '@lead', 'trail@', 'a@b@c', ':@:', 'x/y@z']) {
      const out = redactSecrets(`failed: postgres://app:${password}@db.internal/app (ECONNREFUSED)`);
      expect(out).toBe('failed: postgres://app:***@db.internal/app (ECONNREFUSED)');
    }
  });

  it('masks password fields in key=value and JSON text', () => {
    expect(redactSecrets('{"password":"s3cret","user":"app"}')).toBe('{"password":***,"user":"app"}');
    expect(redactSecrets("password: 'p w'")).toBe('password: ***');
    expect(redactSecrets('PGPASSWORD=s3cret psql')).toBe('PGPASSWORD=*** psql');
    expect(redactSecrets('db_password: s3cret')).toBe('db_password: ***');
    expect(redactSecrets('passwd=s3cret&user=app')).toBe('passwd=***&user=app');
  });

  it('withoutConnectionStrings drops every connection string', () => {
    expect(withoutConnectionStrings('at postgres://app:p@ss@db/app now')).toBe('at <connection string> now');
  });
});
