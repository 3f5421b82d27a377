<?php
/**
 * A post, as plain values, to an article of the related-headlines API; the article id rule; which
 * post changes push or delete an article.
 *
 * Pure PHP: no WordPress function is called here (the caller reads the post), so the rules are
 * unit-tested without WordPress (integrations/wordpress/tests/).
 *
 * @package RelatedHeadlines
 */

namespace RelatedHeadlines;

defined( 'ABSPATH' ) || exit;

/**
 * Maps posts to articles.
 */
final class Article_Mapper {

	// The API's limits (index/records/article.py), in characters: longer values are cut to fit
	// rather than refused with a 400.
	const MAX_ID       = 128;
	const MAX_HEADLINE = 1000;
	const MAX_BODY     = 200000;
	const MAX_URL      = 2048;
	const MAX_NAME     = 200;
	const MAX_TAGS     = 100;
	const MAX_TAG      = 100;

	const LANGUAGE_TAG = '/^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/';
	const HTTP_URL     = '/^https?:\/\/[^\x00-\x20\x7f]+$/i';

	/**
	 * The site's part of article ids: its host (lower case, with a port if any) and, for a site in a
	 * sub-folder (a multisite sub-directory site, a blog under /news), that folder, `~` between
	 * segments (`example.com~news`). Two sites sharing one service never share ids.
	 *
	 * @param string $home_url The site's home URL (home_url()).
	 */
	public static function site_key( $home_url ) {
		$parts = parse_url( (string) $home_url );
		$host  = isset( $parts['host'] ) ? strtolower( $parts['host'] ) : '';
		$host  = '' === $host ? 'localhost' : $host;
		if ( isset( $parts['port'] ) ) {
			$host .= ':' . (int) $parts['port'];
		}
		$path     = isset( $parts['path'] ) ? trim( $parts['path'], '/' ) : '';
		$segments = '' === $path ? array() : array_filter( explode( '/', $path ), 'strlen' );
		$key      = implode( '~', array_merge( array( $host ), $segments ) );
		return self::clean_line( $key );
	}

	/**
	 * The article id of a post: `wp-<site key>-<post ID>` (`wp-example.com-42`).
	 *
	 * Not the permalink: a permalink changes when an editor edits the slug, when the permalink
	 * structure changes, or between `?p=42` and the pretty URL, and every change would leave the old
	 * article behind in the service (a block linking to a dead URL) and split the post in two. The post
	 * ID never changes. A site that moves to another domain keeps its ids by pinning its site key
	 * (the `related_headlines_site_key` filter). Never longer than the API's 128 characters, no slash.
	 *
	 * @param string $site_key From site_key().
	 * @param int    $post_id  The post's ID.
	 */
	public static function article_id( $site_key, $post_id ) {
		$site_key = str_replace( '/', '~', self::clean_line( (string) $site_key ) );
		$suffix   = '-' . (int) $post_id;
		if ( strlen( 'wp-' . $site_key . $suffix ) > self::MAX_ID ) {
			$site_key = substr( $site_key, 0, 60 ) . '~' . substr( md5( $site_key ), 0, 12 );
		}
		return 'wp-' . $site_key . $suffix;
	}

	/**
	 * The article for a post, or null when the post has no headline the API would take.
	 *
	 * @param array $post {
	 *     The post's values, read by the caller.
	 *
	 *     @type int      $ID         Post ID.
	 *     @type string   $title      Raw title (post_title).
	 *     @type string   $content    Content, HTML (shortcodes already removed).
	 *     @type string   $excerpt    Excerpt, used when the content is empty.
	 *     @type string   $permalink  get_permalink().
	 *     @type string   $date_gmt   post_date_gmt, `Y-m-d H:i:s` in UTC.
	 *     @type string[] $categories Category names, the first one is the section.
	 *     @type string[] $tags       Tag names.
	 * }
	 * @param array $site {
	 *     @type string $key    site_key() (or the filtered one).
	 *     @type string $locale get_locale(), e.g. `ar` or `en_US`.
	 *     @type string $name   The site's name (the articles' source).
	 * }
	 * @return array|null The article, only with the fields that have a value.
	 */
	public static function to_article( array $post, array $site ) {
		$headline = self::cut( self::clean_line( self::html_to_text( self::value( $post, 'title' ) ) ), self::MAX_HEADLINE );
		if ( ! self::visible( $headline ) ) {
			return null;
		}
		$article = array(
			'id'       => self::article_id( self::value( $site, 'key' ), isset( $post['ID'] ) ? $post['ID'] : 0 ),
			'headline' => $headline,
		);

		$body = self::html_to_text( self::value( $post, 'content' ) );
		if ( '' === $body ) {
			$body = self::html_to_text( self::value( $post, 'excerpt' ) );
		}
		$optional = array(
			'body'         => self::cut( $body, self::MAX_BODY ),
			'url'          => self::http_url( self::value( $post, 'permalink' ) ),
			'published_at' => self::utc_timestamp( self::value( $post, 'date_gmt' ) ),
			'language'     => self::language( self::value( $site, 'locale' ) ),
			'section'      => self::name( self::first( isset( $post['categories'] ) ? $post['categories'] : array() ) ),
			'source'       => self::name( self::value( $site, 'name' ) ),
		);
		foreach ( $optional as $field => $value ) {
			if ( null !== $value && '' !== $value ) {
				$article[ $field ] = $value;
			}
		}
		$tags = self::tags( isset( $post['tags'] ) ? $post['tags'] : array() );
		if ( $tags ) {
			$article['tags'] = $tags;
		}
		return $article;
	}

	/**
	 * What a change of a post does to its article: `push` (store or update it), `delete` (remove it:
	 * it was public and no longer is) or `skip`.
	 *
	 * @param string $status          The post's status now.
	 * @param string $previous_status Its status before the change ('' when unknown).
	 * @param bool   $viewable        Whether its post type is public (is_post_type_viewable()).
	 * @param bool   $protected       Whether it has a password (its text is not public).
	 * @param bool   $revision        Whether it is a revision or an autosave.
	 */
	public static function action( $status, $previous_status, $viewable, $protected, $revision ) {
		if ( $revision || ! $viewable ) {
			return 'skip';
		}
		if ( 'publish' === $status ) {
			return $protected ? 'delete' : 'push';
		}
		return 'publish' === $previous_status ? 'delete' : 'skip';
	}

	/**
	 * Text of an HTML fragment: scripts, styles and comments (block delimiters) removed, a line a
	 * paragraph, entities decoded, spaces collapsed.
	 *
	 * @param string $html The fragment.
	 */
	public static function html_to_text( $html ) {
		$text = self::valid_utf8( (string) $html );
		$text = preg_replace( '#<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>#is', ' ', $text );
		$text = preg_replace( '#<!--.*?-->#s', ' ', $text );
		$text = preg_replace( '#<br\s*/?>|</?(p|div|h[1-6]|li|ul|ol|dl|dt|dd|blockquote|pre|figure|figcaption|table|tr|section|article|aside|header|footer|hr)\b[^>]*>#i', "\n", $text );
		$text = html_entity_decode( strip_tags( $text ), ENT_QUOTES | ENT_HTML5, 'UTF-8' );
		$text = preg_replace( '/[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/', '', $text );
		$lines = array();
		foreach ( preg_split( '/\R/u', $text ) as $line ) {
			$line = trim( preg_replace( '/[\s\x{00A0}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]+/u', ' ', $line ) );
			if ( '' !== $line ) {
				$lines[] = $line;
			}
		}
		return implode( "\n", $lines );
	}

	/**
	 * At most $max characters (code points) of a UTF-8 text.
	 *
	 * @param string $text The text.
	 * @param int    $max  Characters kept.
	 */
	public static function cut( $text, $max ) {
		$text = (string) $text;
		if ( strlen( $text ) <= $max ) { // Bytes are at least characters.
			return $text;
		}
		if ( function_exists( 'mb_substr' ) ) {
			return mb_substr( $text, 0, $max, 'UTF-8' );
		}
		if ( function_exists( 'iconv_substr' ) ) {
			$cut = iconv_substr( $text, 0, $max, 'UTF-8' );
			if ( false !== $cut ) {
				return $cut;
			}
		}
		return preg_replace( '/[\xC0-\xF7][\x80-\xBF]*$/', '', substr( $text, 0, $max ) ); // Fewer, never more.
	}

	/**
	 * `Y-m-d H:i:s` in UTC to ISO 8601 (`2024-05-01T08:30:00Z`); null for WordPress's zero date.
	 *
	 * @param string $date_gmt post_date_gmt.
	 */
	public static function utc_timestamp( $date_gmt ) {
		$date_gmt = trim( (string) $date_gmt );
		if ( ! preg_match( '/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/', $date_gmt ) || 0 === strpos( $date_gmt, '0000-' ) ) {
			return null;
		}
		$moment = \DateTimeImmutable::createFromFormat( '!Y-m-d H:i:s', $date_gmt, new \DateTimeZone( 'UTC' ) );
		if ( false === $moment || $moment->format( 'Y-m-d H:i:s' ) !== $date_gmt ) {
			return null; // Such as 2024-02-30.
		}
		return $moment->format( 'Y-m-d\TH:i:s\Z' );
	}

	/**
	 * The language tag of a WordPress locale (`en_US` to `en-US`, `ar` stays), or null.
	 *
	 * @param string $locale get_locale().
	 */
	public static function language( $locale ) {
		$tag = str_replace( '_', '-', trim( (string) $locale ) );
		return ( strlen( $tag ) <= 35 && preg_match( self::LANGUAGE_TAG, $tag ) ) ? $tag : null;
	}

	/**
	 * An http(s) URL the API takes, or null.
	 *
	 * @param string $url The URL.
	 */
	public static function http_url( $url ) {
		$url = trim( (string) $url );
		return ( strlen( $url ) <= self::MAX_URL && preg_match( self::HTTP_URL, $url ) ) ? $url : null;
	}

	/**
	 * A source, section or tag name: entities decoded, tags removed, one line, cut.
	 *
	 * @param string $name The name as WordPress stores it (term names are stored escaped).
	 * @param int    $max  Characters kept.
	 */
	private static function name( $name, $max = self::MAX_NAME ) {
		$name = self::clean_line( self::html_to_text( (string) $name ) );
		return self::visible( $name ) ? self::cut( $name, $max ) : null;
	}

	/**
	 * Tag names: distinct, non-empty, at most 100 of at most 100 characters.
	 *
	 * @param array $names Tag names.
	 */
	private static function tags( $names ) {
		$tags = array();
		foreach ( (array) $names as $name ) {
			$tag = self::name( is_scalar( $name ) ? (string) $name : '', self::MAX_TAG );
			if ( null !== $tag && ! in_array( $tag, $tags, true ) ) {
				$tags[] = $tag;
			}
			if ( count( $tags ) >= self::MAX_TAGS ) {
				break;
			}
		}
		return $tags;
	}

	/**
	 * Whether a text holds a character that shows (not a space, control or format character).
	 *
	 * @param string|null $text The text.
	 */
	private static function visible( $text ) {
		return null !== $text && 1 === preg_match( '/[^\s\p{Z}\p{Cc}\p{Cf}]/u', $text );
	}

	/**
	 * One line: runs of white space and line breaks to one space, trimmed.
	 *
	 * @param string $text The text.
	 */
	private static function clean_line( $text ) {
		$text = preg_replace( '/[\x00-\x1F\x7F]/', ' ', self::valid_utf8( (string) $text ) );
		return trim( preg_replace( '/[\s\x{00A0}]+/u', ' ', $text ) );
	}

	/**
	 * The text with invalid UTF-8 replaced by U+FFFD.
	 *
	 * @param string $text The text.
	 */
	private static function valid_utf8( $text ) {
		if ( preg_match( '//u', $text ) ) {
			return $text;
		}
		return htmlspecialchars_decode( htmlspecialchars( $text, ENT_NOQUOTES | ENT_SUBSTITUTE, 'UTF-8' ), ENT_NOQUOTES );
	}

	/**
	 * A string value of an array, '' when absent.
	 *
	 * @param array  $values The array.
	 * @param string $key    The key.
	 */
	private static function value( array $values, $key ) {
		return isset( $values[ $key ] ) && is_scalar( $values[ $key ] ) ? (string) $values[ $key ] : '';
	}

	/**
	 * The first element of a list, '' when empty.
	 *
	 * @param array $values The list.
	 */
	private static function first( $values ) {
		$values = array_values( (array) $values );
		return isset( $values[0] ) && is_scalar( $values[0] ) ? (string) $values[0] : '';
	}
}
