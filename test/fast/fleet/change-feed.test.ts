import { describe, expect, it } from '@jest/globals';
import { FleetChangeFeed } from '../../../src/fleet/change-feed.js';

describe('fleet/change-feed', () => {
  const recorder = () => {
    const heard: string[] = [];
    return { heard, listener: (name: string) => () => heard.push(name) };
  };

  it("tells a fleet's listeners of its changes only, and every-fleet listeners of any change", () => {
    const feed = new FleetChangeFeed(10);
    const { heard, listener } = recorder();
    feed.listen(1, listener('fleet 1'), () => undefined);
    feed.listen(2, listener('fleet 2'), () => undefined);
    feed.listen(undefined, listener('every fleet'), () => undefined);
    feed.publish([1, 1]);
    expect(heard).toEqual(['fleet 1', 'every fleet']);
    heard.length = 0;
    feed.publish([]);
    expect(heard).toEqual([]);
  });

  it('removes a listener, and refuses new ones beyond its maximum or once closed', () => {
    const feed = new FleetChangeFeed(2);
    const { heard, listener } = recorder();
    const stop = feed.listen(1, listener('first'), () => undefined)!;
    expect(feed.listen(1, listener('second'), () => undefined)).toBeDefined();
    expect(feed.listen(1, listener('third'), () => undefined)).toBeUndefined();
    stop();
    expect(feed.size).toBe(1);
    feed.publish([1]);
    expect(heard).toEqual(['second']);
    feed.close();
    expect(feed.listen(1, listener('late'), () => undefined)).toBeUndefined();
  });

  it('ends every stream when it closes', () => {
    const feed = new FleetChangeFeed(5);
    const closed: string[] = [];
    feed.listen(
      1,
      () => undefined,
      () => closed.push('a'),
    );
    feed.listen(
      undefined,
      () => undefined,
      () => closed.push('b'),
    );
    feed.close();
    expect(closed).toEqual(['a', 'b']);
    expect(feed.size).toBe(0);
  });
});
