import { canonicalize, payloadChecksum } from '../platform/jcs';

describe('RFC 8785 canonical JSON and the record checksum', () => {
  test('sorts members by UTF-16 code units and strips whitespace', () => {
    expect(canonicalize({ b: 1, a: [true, null, 'x'], '\u20ac': 1, '\r': 2, 'ö': 3 })).toBe('{"\\r":2,"a":[true,null,"x"],"b":1,"ö":3,"€":1}');
  });
  test('serializes numbers as ECMAScript does', () => {
    expect(canonicalize([1e21, 1.5e-7, -0, 100, 0.1 + 0.2])).toBe('[1e+21,1.5e-7,0,100,0.30000000000000004]');
  });
  test('rejects values JSON cannot carry', () => {
    expect(() => canonicalize(NaN)).toThrow(/NaN/);
  });
  test('the README worked example', () => {
    const payload = { unit: 'C', temp: 21.5, sensor: { id: 'A-7', ok: true } };
    expect(canonicalize(payload)).toBe('{"sensor":{"id":"A-7","ok":true},"temp":21.5,"unit":"C"}');
    // = printf '%s' '{"sensor":{"id":"A-7","ok":true},"temp":21.5,"unit":"C"}' | sha256sum
    expect(payloadChecksum(payload)).toBe('4509116a9e0fc3822acbb442cc056bcedd775f10ec9989f696c7ed25a77c3ebc');
  });
});
