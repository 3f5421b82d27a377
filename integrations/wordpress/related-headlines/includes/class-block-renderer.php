<?php
/**
 * The block's HTML from a similar answer of the service: the markup of the widget's iframe page
 * (service/templates/widget.html), so that the widget's stylesheet applies.
 *
 * Pure PHP apart from WordPress's escaping functions (esc_html, esc_attr, esc_url), which the unit
 * tests stub. Every value of the answer is escaped as it is written; only http(s) URLs become links.
 *
 * @package RelatedHeadlines
 */

namespace RelatedHeadlines;

defined( 'ABSPATH' ) || exit;

/**
 * Renders a similar answer.
 */
final class Block_Renderer {

	// As service/widget.py and service/static/widget.js.
	const RTL      = '/^(ar|arc|ckb|dv|fa|he|iw|ps|sd|ug|ur|yi)(-|$)/i';
	const HTTP_URL = '/^https?:\/\//i';
	const TITLES   = array(
		'ar' => 'مقالات مشابهة',
		'en' => 'Similar articles',
		'fr' => 'Articles similaires',
	);
	// Headings of the items that top up a block (`fill`), never under the similar heading.
	const FILL_TITLES = array(
		'more_from_section' => array(
			'ar' => 'المزيد من {section}',
			'en' => 'More from {section}',
			'fr' => 'Plus de {section}',
		),
		'latest'            => array(
			'ar' => 'آخر الأخبار',
			'en' => 'Latest news',
			'fr' => 'Dernières nouvelles',
		),
	);
	const UNITS    = array(
		'year'   => 31536000,
		'month'  => 2592000,
		'week'   => 604800,
		'day'    => 86400,
		'hour'   => 3600,
		'minute' => 60,
	);
	const NOW      = array(
		'ar' => 'الآن',
		'en' => 'now',
	);
	// Arabic forms one, two, few (3-10), many (11-99), other (100-102, ...), as Intl.RelativeTimeFormat writes them.
	const AR_FORMS = array(
		'minute' => array( 'دقيقة واحدة', 'دقيقتين', 'دقائق', 'دقيقة', 'دقيقة' ),
		'hour'   => array( 'ساعة واحدة', 'ساعتين', 'ساعات', 'ساعة', 'ساعة' ),
		'day'    => array( 'يوم واحد', 'يومين', 'أيام', 'يومًا', 'يوم' ),
		'week'   => array( 'أسبوع واحد', 'أسبوعين', 'أسابيع', 'أسبوعًا', 'أسبوع' ),
		'month'  => array( 'شهر واحد', 'شهرين', 'أشهر', 'شهرًا', 'شهر' ),
		'year'   => array( 'سنة واحدة', 'سنتين', 'سنوات', 'سنة', 'سنة' ),
	);

	/**
	 * The block, or '' when the answer is not a similar answer or has no item (the page is then left
	 * as it was, as the widget removes itself).
	 *
	 * @param mixed $answer  The decoded JSON answer of `GET /v1/articles/<id>/similar`.
	 * @param array $options {
	 *     @type string $title         The heading ('' : the language's default).
	 *     @type string $lang          The block's language ('' : the article's, else the items' most common).
	 *     @type string $fallback_lang When nothing else tells (the site's language).
	 *     @type string $theme         `dark` for the dark preset.
	 * }
	 * @param int   $now     Unix time the dates are relative to (default: now).
	 */
	public static function render( $answer, array $options = array(), $now = null ) {
		if ( ! is_array( $answer ) || ! isset( $answer['items'] ) || ! is_array( $answer['items'] ) ) {
			return '';
		}
		$items = array_values( array_filter( $answer['items'], array( __CLASS__, 'is_item' ) ) );
		if ( ! $items ) {
			return '';
		}
		$now      = null === $now ? time() : (int) $now;
		$article  = isset( $answer['article'] ) && is_array( $answer['article'] ) ? $answer['article'] : array();
		$lang     = self::block_language( self::option( $options, 'lang' ), self::text( $article, 'language' ), $items, self::option( $options, 'fallback_lang' ) );
		$base     = self::base_language( $lang );
		$title    = self::option( $options, 'title' );
		$title    = '' !== $title ? $title : ( isset( self::TITLES[ $base ] ) ? self::TITLES[ $base ] : self::TITLES['en'] );
		$dir      = preg_match( self::RTL, $lang ) ? 'rtl' : 'ltr';
		$classes  = 'sa-block' . ( 'dark' === self::option( $options, 'theme' ) ? ' sa-dark' : '' );
		$parts    = self::parts( $items, $title, $base );
		$html     = '<div class="' . esc_attr( $classes ) . '" lang="' . esc_attr( $lang ) . '" dir="' . esc_attr( $dir )
			. '" role="region" aria-label="' . esc_attr( $title ) . '" data-sa-state="ready">';
		foreach ( $parts as $index => $part ) {
			$html .= 0 === $index
				? "\n" . '<h2 class="sa-title">' . esc_html( $part['title'] ) . '</h2>'
				: "\n" . '<h3 class="sa-subtitle">' . esc_html( $part['title'] ) . '</h3>';
			$html .= "\n" . '<ol class="sa-list">';
			foreach ( $part['items'] as $item ) {
				$html .= "\n" . self::item( $item, $lang, $now );
			}
			$html .= "\n" . '</ol>';
		}
		return $html . "\n" . '</div>';
	}

	/**
	 * One item: its headline (a link when its URL is http(s)), source and relative date.
	 *
	 * @param array  $item An item of the answer.
	 * @param string $lang The block's language (for the date).
	 * @param int    $now  Unix time.
	 */
	private static function item( array $item, $lang, $now ) {
		$url       = self::text( $item, 'url' );
		$language  = self::language_tag( self::text( $item, 'language' ) );
		$lang_attr = '' !== $language ? ' lang="' . esc_attr( $language ) . '"' : '';
		$headline  = esc_html( self::text( $item, 'headline' ) );
		$href      = preg_match( self::HTTP_URL, $url ) ? esc_url( $url, array( 'http', 'https' ) ) : '';
		$link      = '' !== $href
			? '<a class="sa-link" href="' . $href . '" dir="auto"' . $lang_attr . '>' . $headline . '</a>'
			: '<span class="sa-link" dir="auto"' . $lang_attr . '>' . $headline . '</span>';
		$meta      = '';
		$source    = self::text( $item, 'source' );
		if ( '' !== $source ) {
			$meta .= '<span class="sa-source" dir="auto">' . esc_html( $source ) . '</span>';
		}
		$published = self::text( $item, 'published_at' );
		$when      = '' !== $published ? self::relative_time( $published, $lang, $now ) : '';
		if ( '' !== $when ) {
			$meta .= '<time class="sa-date" datetime="' . esc_attr( $published ) . '">' . esc_html( $when ) . '</time>';
		}
		return '<li class="sa-item" data-id="' . esc_attr( self::text( $item, 'id' ) ) . '" data-relation="'
			. esc_attr( self::text( $item, 'relation' ) ) . '">' . "\n" . $link . "\n" . '<div class="sa-meta">' . $meta . '</div>' . "\n" . '</li>';
	}

	/**
	 * The block's lists under their headings: the items found (similar), then the items that top it
	 * up, by fill relation.
	 *
	 * @param array  $items The items.
	 * @param string $title The block's heading.
	 * @param string $base  The block's primary language subtag.
	 */
	private static function parts( array $items, $title, $base ) {
		$found = array();
		foreach ( $items as $item ) {
			if ( ! isset( self::FILL_TITLES[ self::text( $item, 'relation' ) ] ) ) {
				$found[] = $item;
			}
		}
		$parts = $found ? array( array( 'title' => $title, 'items' => $found ) ) : array();
		foreach ( self::FILL_TITLES as $relation => $titles ) {
			$extra = array();
			foreach ( $items as $item ) {
				if ( self::text( $item, 'relation' ) === $relation ) {
					$extra[] = $item;
				}
			}
			if ( $extra ) {
				$heading = isset( $titles[ $base ] ) ? $titles[ $base ] : $titles['en'];
				$parts[] = array(
					'title' => str_replace( '{section}', self::text( $extra[0], 'section' ), $heading ),
					'items' => $extra,
				);
			}
		}
		return $parts;
	}

	/**
	 * The block's language: asked for, else the article's, else the items' most common (on a tie, the
	 * first item's), else the fallback, else English. Only well-formed language tags count.
	 *
	 * @param string $requested        Asked for by the block.
	 * @param string $article_language The article's, from the answer.
	 * @param array  $items            The items.
	 * @param string $fallback         The site's.
	 */
	public static function block_language( $requested, $article_language, array $items, $fallback = '' ) {
		$counts = array();
		foreach ( $items as $item ) {
			$language = is_array( $item ) ? self::language_tag( self::text( $item, 'language' ) ) : '';
			if ( '' !== $language ) {
				$counts[ $language ] = isset( $counts[ $language ] ) ? $counts[ $language ] + 1 : 1;
			}
		}
		$common = '';
		foreach ( $counts as $language => $count ) { // In first-seen order: a tie keeps the first.
			if ( '' === $common || $count > $counts[ $common ] ) {
				$common = (string) $language;
			}
		}
		foreach ( array( $requested, $article_language, $common, $fallback ) as $candidate ) {
			$candidate = self::language_tag( (string) $candidate );
			if ( '' !== $candidate ) {
				return $candidate;
			}
		}
		return 'en';
	}

	/**
	 * '3 days ago' / 'قبل 3 أيام' as the widget writes them; other languages get the date (YYYY-MM-DD).
	 *
	 * @param string $iso  An ISO 8601 date-time.
	 * @param string $lang The block's language.
	 * @param int    $now  Unix time.
	 */
	public static function relative_time( $iso, $lang, $now ) {
		try {
			$moment = new \DateTimeImmutable( (string) $iso, new \DateTimeZone( 'UTC' ) );
		} catch ( \Exception $e ) {
			return '';
		}
		if ( ! preg_match( '/^\d{4}-\d{2}-\d{2}/', (string) $iso ) ) {
			return '';
		}
		$seconds = max( 0, (int) $now - $moment->getTimestamp() ); // A date in the future reads "now".
		$base    = self::base_language( $lang );
		if ( ! isset( self::NOW[ $base ] ) ) {
			return substr( (string) $iso, 0, 10 );
		}
		foreach ( self::UNITS as $unit => $size ) {
			if ( $seconds >= $size ) {
				$n = intdiv( $seconds, $size );
				if ( 'ar' === $base ) {
					return self::arabic_plural( $n, self::AR_FORMS[ $unit ] );
				}
				return $n . ' ' . $unit . ( 1 === $n ? '' : 's' ) . ' ago';
			}
		}
		return self::NOW[ $base ];
	}

	/**
	 * `قبل ...` for n >= 1 with the CLDR Arabic plural category of n.
	 *
	 * @param int   $n     The count.
	 * @param array $forms The unit's five forms.
	 */
	private static function arabic_plural( $n, array $forms ) {
		if ( 1 === $n ) {
			return 'قبل ' . $forms[0];
		}
		if ( 2 === $n ) {
			return 'قبل ' . $forms[1];
		}
		$rest = $n % 100;
		$form = ( $rest >= 3 && $rest <= 10 ) ? $forms[2] : ( ( $rest >= 11 && $rest <= 99 ) ? $forms[3] : $forms[4] );
		return 'قبل ' . $n . ' ' . $form;
	}

	/**
	 * Whether an element of `items` can be shown: an object with a headline.
	 *
	 * @param mixed $item The element.
	 */
	private static function is_item( $item ) {
		return is_array( $item ) && '' !== trim( self::text( $item, 'headline' ) );
	}

	/**
	 * A well-formed language tag, or ''.
	 *
	 * @param string $tag The tag.
	 */
	private static function language_tag( $tag ) {
		$tag = str_replace( '_', '-', trim( $tag ) );
		return preg_match( '/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/', $tag ) ? $tag : '';
	}

	/**
	 * The primary subtag, lower case.
	 *
	 * @param string $lang A language tag.
	 */
	private static function base_language( $lang ) {
		$parts = explode( '-', (string) $lang );
		return strtolower( $parts[0] );
	}

	/**
	 * A string value of an item (numbers written as strings), '' otherwise.
	 *
	 * @param array  $values The item.
	 * @param string $key    The field.
	 */
	private static function text( array $values, $key ) {
		if ( ! isset( $values[ $key ] ) || is_array( $values[ $key ] ) || is_bool( $values[ $key ] ) || is_object( $values[ $key ] ) ) {
			return '';
		}
		return (string) $values[ $key ];
	}

	/**
	 * A string option, trimmed.
	 *
	 * @param array  $options The options.
	 * @param string $key     The option.
	 */
	private static function option( array $options, $key ) {
		return isset( $options[ $key ] ) && is_scalar( $options[ $key ] ) ? trim( (string) $options[ $key ] ) : '';
	}
}
